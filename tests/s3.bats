#!/usr/bin/env bats
# The mirror in an S3-compatible store: the tools against a real OpenStack
# Swift with its S3 API (tests/swift/swift-start, one for the whole file),
# files from the PyPI emulator. What landed is read back through Swift's own
# API (tests/lib/swift.bash), not through the code under test.

load lib/common
load lib/swift
load lib/nginx

setup_file() {
	emu_file_start
	swift_file_start
	export PYPI_MIRROR_UPSTREAM="$EMU_URL" PYPI_MIRROR_ALLOW_NON_HTTPS=1
	export PYPI_MIRROR_RETRIES=1 PYPI_MIRROR_BACKOFF=0.1 PYPI_MIRROR_TIMEOUT=5
	simple_root | jq -r '.projects[].name' | sed 's/.*/{"name":"&"}/' | pkg-resolve -q >"$BATS_FILE_TMPDIR/all.ndjson"
}

teardown_file() {
	swift_file_stop
	common_teardown_file
}

# $T/conf: this test's prefix in bandersnatch's form ([mirror] and [s3]),
# with any further [s3] lines given.
s3_conf() {
	{
		printf '[mirror]\ndirectory = /%s/%s\nstorage-backend = s3\n\n[s3]\n' "$S3_BUCKET" "$P"
		printf 'endpoint_url = %s\nregion_name = %s\n' "$S3_ENDPOINT" "$S3_REGION"
		printf 'aws_access_key_id = %s\naws_secret_access_key = %s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"
		[ $# -eq 0 ] || printf '%s\n' "$@"
	} >"$T/conf"
}

setup() {
	admin clear-faults
	admin reset-stats
	T="$BATS_TEST_TMPDIR"
	ALL="$BATS_FILE_TMPDIR/all.ndjson"
	# Each test its own prefix in the one bucket.
	P="t${BATS_TEST_NUMBER}"
	S3="s3://$S3_BUCKET/$P"
}

# "KEY SHA256" of every file and companion the records in $1 name, under
# prefix $2, sorted: what the bucket must hold.
want_objects() {
	jq -r --arg p "$2" 'select(.type == "project") | .files[] |
		"\($p)/web/\(.path) \(.sha256)", (select(.core_metadata) | "\($p)/web/\(.path).metadata \(.core_metadata)")' "$1" |
		LC_ALL=C sort
}

# The same of what the bucket holds under $1/web/, hashing the bytes.
have_objects() { swift_sha256s "$S3_BUCKET" "$1/web/"; }

# GETs of the emulator's paths under /$1 (default packages/) since reset-stats.
package_gets() {
	emu_stats | jq --arg p "/${1:-packages/}" \
		'[.requests | to_entries[] | select(.key | startswith("GET " + $p)) | .value] | add // 0'
}

@test "2101 artifact-get -d s3://: an initial sync stores every file verified, with its sha256 and upload time; a second run fetches nothing" {
	run --separate-stderr artifact-get -d "$S3" <"$ALL"
	assert_success
	diff <(sort "$ALL") <(jq -c 'select(.type == "project")' <<<"$output" |
		sed -E 's/,"files_fetched":[0-9]+,"bytes_fetched":[0-9]+,"stored_at":"[^"]*"(,"new_to_store":true(,"journal_batch":\{[^}]*\})?)?\}$/}/' | sort)
	# Each record vouches for its files in this store (index-write takes it),
	# and, the prefix being empty, says the project is new to it.
	jq -se --arg at "$S3_ENDPOINT/$S3_BUCKET/$P" 'map(select(.type == "project")) | length > 0 and all(.stored_at == $at and .new_to_store == true)' <<<"$output"
	diff <(want_objects "$ALL" "$P") <(have_objects "$P")
	# PyPI's sha256 and upload time in the user metadata; the type sent.
	IFS=$'\t' read -r path sha up < <(jq -r 'select(.name == "demo-pkg") | .files[0] | [.path, .sha256, .upload_time] | @tsv' "$ALL")
	h=$(swift_head "$S3_BUCKET" "$P/web/$path")
	[[ "$h" == *"x-object-meta-sha256: $sha"* ]]
	[[ "$h" == *"x-object-meta-uploaded-at: ${up:0:19}Z"* ]]
	[[ "$h" == *"content-type: application/octet-stream"* ]]
	# The journal of what was stored for each project is in the store too:
	# the projects were all on the input at once, so in one unlisted batch,
	# which each record names.
	batch=$(jq -sr 'map(select(.type == "project")) | map(.journal_batch) | unique | if length == 1 then .[0].name else error("batches: \(.)") end' <<<"$output")
	jq -se --arg b "$batch" 'map(select(.type == "project")) | length as $n | all(.journal_batch == {name: $b, projects: $n})' <<<"$output"
	swift_cat "$S3_BUCKET" "$P/.unlisted/$batch" | grep -qxF "demo-pkg $path"
	run swift_has "$S3_BUCKET" "$P/.unlisted/demo-pkg"
	assert_failure
	# Nothing left in the scratch directory, no credential in the log.
	[[ "$stderr" != *"$AWS_SECRET_ACCESS_KEY"* ]]
	[[ "$stderr" == *" 0 failed in 0 projects"* ]]

	admin reset-stats
	run --separate-stderr artifact-get -d "$S3" <"$ALL"
	assert_success
	[[ "$stderr" == *"0 files downloaded (0 bytes)"* ]]
	[[ "$(package_gets)" == 0 ]]
	# No index-write took the batch: this run found it and gave each of its
	# projects a journal of its own, so none is new to the store.
	jq -se 'map(select(.type == "project")) | length > 0 and all(has("new_to_store") | not)' <<<"$output"
	[[ "$stderr" == *"Expanding the unlisted batch $batch"* ]]
	run swift_has "$S3_BUCKET" "$P/.unlisted/$batch"
	assert_failure
	swift_cat "$S3_BUCKET" "$P/.unlisted/demo-pkg" | grep -qxF "$path"
}

@test "2102 artifact-get -d s3://: a file corrupt upstream is never stored; its project errors, the others land" {
	rec=$(jq -c 'select(any(.files[]; .packagetype == "sdist"))' "$ALL" | head -1)
	name=$(jq -r .name <<<"$rec")
	IFS=$'\t' read -r path fn < <(jq -r '[.files[] | select(.packagetype == "sdist")][0] | [.path, .filename] | @tsv' <<<"$rec")
	admin fault path="/$path" kind=corrupt
	run --separate-stderr artifact-get -d "$S3" <"$ALL"
	assert_failure 1
	err=$(jq -c 'select(.type == "error")' <<<"$output")
	[[ $(wc -l <<<"$err") == 1 ]]
	assert_equal "$(jq -r .name <<<"$err")" "$name"
	assert_equal "$(jq -r .file <<<"$err")" "$fn"
	[[ "$(jq -r .reason <<<"$err")" == "sha256 mismatch (got "*", want "*")" ]]
	[[ "$(package_gets "$path")" == 3 ]]
	run swift_keys "$S3_BUCKET" "$P/web/$path"
	assert_output ""
	# Everything else, that project's other files too, is stored.
	diff <(want_objects "$ALL" "$P" | grep -vF "$P/web/$path ") <(have_objects "$P")
}

@test "2103 artifact-get -d s3://: a filename with + (a local version) is stored under its own key" {
	admin new-project name=plus-pkg version=2.0+cpu sdist=0 wheels=py3-none-any
	jq -cn '{name:"plus-pkg"}' | pkg-resolve -q >"$T/plus.ndjson"
	jq -r '.files[0].filename' "$T/plus.ndjson" | grep -qF '+'
	run --separate-stderr artifact-get -d "$S3" <"$T/plus.ndjson"
	assert_success
	diff <(want_objects "$T/plus.ndjson" "$P") <(have_objects "$P")
	key=$(want_objects "$T/plus.ndjson" "$P" | head -1 | cut -d' ' -f1)
	[[ "$key" == *"+cpu"* ]]
}

@test "2111 artifact-get | index-write -d s3://: a filename with non-ASCII bytes is stored under its own key and linked, percent-encoded, from its page" {
	# PyPI's upload rules keep filenames ASCII (project name, PEP 440 version,
	# tags), so the emulator makes none: the file is served by a plain nginx
	# under a non-ASCII name, and its record rewritten to that name.
	admin new-project name=cafe-pkg version=1.0 sdist=0 wheels=py3-none-any
	jq -cn '{name:"cafe-pkg"}' | pkg-resolve -q >"$T/orig.ndjson"
	old=$(jq -r '.files[0].filename' "$T/orig.ndjson")
	url=$(jq -r '.files[0].url' "$T/orig.ndjson")
	dir=$(jq -r '.files[0].path' "$T/orig.ndjson")
	dir=${dir%/*}
	name=$'cafe_pkg-1.0-caf\xc3\xa9-py3-none-any.whl'
	mkdir -p "$T/web/$dir"
	curl -fsS -o "$T/web/$dir/$name" "$url"
	NGINX_VARIANT=plain nginx_start "$T/web"
	enc=$(jq -rn --arg n "$name" '$n | @uri')
	assert_equal "$enc" 'cafe_pkg-1.0-caf%C3%A9-py3-none-any.whl'
	jq -c --arg n "$name" --arg u "$NGINX_URL/$dir/$enc" --arg p "$dir/$name" \
		'.files[0] |= (.filename = $n | .url = $u | .path = $p | del(.core_metadata)) | .files |= .[:1]' \
		"$T/orig.ndjson" >"$T/rec.ndjson"
	run --separate-stderr bash -c "artifact-get -d '$S3' --allow-host '${NGINX_URL#http://}' <'$T/rec.ndjson' | index-write -d '$S3'"
	nginx_stop
	assert_success
	[[ "$output" != *'"error"'* ]] || fail "$output"
	# The object is under the UTF-8 name, with the bytes the record names.
	diff <(want_objects "$T/rec.ndjson" "$P") <(have_objects "$P" | grep -F '/packages/')
	have_objects "$P" | grep -qF "/$name "
	# Its page links it percent-encoded, as PyPI's pages do.
	swift_cat "$S3_BUCKET" "$P/web/simple/cafe-pkg/index.html" >"$T/page.html"
	grep -qF "$enc#sha256=" "$T/page.html" || fail "$(cat "$T/page.html")"
}

@test "2104 artifact-get: wrong credentials and an unreachable endpoint exit 3 naming the store and the reason, storing nothing" {
	AWS_SECRET_ACCESS_KEY=not-the-secret run --separate-stderr artifact-get -d "$S3" <"$ALL"
	assert_failure 3
	[[ "$stderr" == *"$S3: $S3_ENDPOINT: cannot list bucket $S3_BUCKET: HTTP 403 (SignatureDoesNotMatch"* ]]
	[[ "$stderr" != *"not-the-secret"* ]]
	port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	AWS_ENDPOINT_URL="http://127.0.0.1:$port" run --separate-stderr artifact-get -d "$S3" <"$ALL"
	assert_failure 3
	[[ "$stderr" == *"$S3: http://127.0.0.1:$port: cannot list bucket $S3_BUCKET: Couldn't connect to server"* ]]
	run swift_keys "$S3_BUCKET" "$P/"
	assert_output ""
	# No credentials at all: a usage error.
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY artifact-get -d "$S3" </dev/null 2>"$T/err" && fail "no credentials accepted"
	grep -q "no S3 credentials" "$T/err"
}

@test "2105 artifact-get --config: bandersnatch's [mirror] storage-backend = s3 and [s3] section; config_param_* warned about" {
	s3_conf "signature_version = s3v4" "config_param_ServerSideEncryption = AES256"
	jq -c 'select(.name == "demo-pkg")' "$ALL" >"$T/one.ndjson"
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_ENDPOINT_URL \
		artifact-get --config "$T/conf" <"$T/one.ndjson" >"$T/out" 2>"$T/err"
	grep -q "config_param_ServerSideEncryption is a boto setting; ignored" "$T/err"
	diff <(want_objects "$T/one.ndjson" "$P") <(have_objects "$P")
}

# "KEY SHA256" of every file under directory $1, keyed as prefix $2 would
# hold it, sorted: a filesystem mirror in the form of have_objects.
fs_objects() {
	(cd "$1" && find . -type f -printf '%P\n' | LC_ALL=C sort | while read -r f; do
		echo "$2/$f $(sha256sum <"$f" | cut -d' ' -f1)"
	done)
}

# The sync of records $1 into the store ($S3) and into directory $2, by the
# same pipe.
sync_both() {
	artifact-get -q -d "$S3" <"$1" | index-write -q -d "$S3" >"$T/s3.out"
	mkdir -p "$2"
	artifact-get -q -d "$2" <"$1" | index-write -q -d "$2" >"$T/fs.out"
}

@test "2106 artifact-get | index-write -d s3://: pages stored with their Content-Type, every file they link present, the same keys and bytes as a filesystem mirror" {
	sync_both "$ALL" "$T/fs"
	[[ $(jq -s 'map(select(.type == "synced")) | length' "$T/s3.out") == $(jq -s length "$ALL") ]]
	h=$(swift_head "$S3_BUCKET" "$P/web/simple/demo-pkg/index.html")
	[[ "$h" == *"content-type: text/html"* ]]
	h=$(swift_head "$S3_BUCKET" "$P/web/simple/demo-pkg/index.v1_html")
	[[ "$h" == *"content-type: application/vnd.pypi.simple.v1+html"* ]]
	h=$(swift_head "$S3_BUCKET" "$P/web/simple/demo-pkg/index.v1_json")
	[[ "$h" == *"content-type: application/vnd.pypi.simple.v1+json"* ]]
	h=$(swift_head "$S3_BUCKET" "$P/web/simple/index.v1_json")
	[[ "$h" == *"content-type: application/vnd.pypi.simple.v1+json"* ]]
	# Every link of every project page is an object of the store.
	keys=$(swift_keys "$S3_BUCKET" "$P/web/packages/")
	for n in $(jq -r .name "$ALL"); do
		swift_cat "$S3_BUCKET" "$P/web/simple/$n/index.v1_json" | jq -r '.files[].url' |
			sed "s|^\.\./\.\./|$P/web/|; s|#.*||" | while read -r k; do
			k=$(printf '%b' "${k//%/\\x}")
			grep -qxF "$k" <<<"$keys" || fail "$n links $k, not in the store"
		done
	done
	# The root lists every project; no journal is left.
	[[ $(swift_cat "$S3_BUCKET" "$P/web/simple/index.v1_json" | jq '.projects | length') == $(jq -s length "$ALL") ]]
	run swift_keys "$S3_BUCKET" "$P/."
	assert_output ""
	diff <(fs_objects "$T/fs" "$P") <(swift_sha256s "$S3_BUCKET" "$P/")
}

@test "2107 index-write -d s3://: an incremental run deletes the file a page stopped linking (after the page) and marks a yank, as a filesystem mirror does" {
	admin new-project name=inc-pkg version=1.0 wheels=py3-none-any
	admin new-release name=inc-pkg version=2.0 wheels=py3-none-any
	jq -cn '{name:"inc-pkg"}' | pkg-resolve -q >"$T/r1.ndjson"
	sync_both "$T/r1.ndjson" "$T/fs"
	IFS=$'\t' read -r gone fn < <(jq -r '[.files[] | select(.filename | test("-1\\.0-.*whl$"))][0] | [.path, .filename] | @tsv' "$T/r1.ndjson")
	[[ -n "$gone" ]]
	swift_keys "$S3_BUCKET" "$P/web/$gone" | grep -qxF "$P/web/$gone"
	admin remove-file name=inc-pkg filename="$fn"
	admin yank name=inc-pkg version=2.0 reason=broken
	jq -cn '{name:"inc-pkg"}' | pkg-resolve -q >"$T/r2.ndjson"
	sync_both "$T/r2.ndjson" "$T/fs"
	jq -e 'select(.type == "synced") | .deleted == 1' "$T/s3.out"
	run swift_keys "$S3_BUCKET" "$P/web/$gone"
	assert_output ""
	page=$(swift_cat "$S3_BUCKET" "$P/web/simple/inc-pkg/index.v1_json")
	jq -e --arg f "$fn" 'all(.files[]; .filename != $f)' <<<"$page"
	jq -e '[.files[] | select(.filename | test("-2\\.0")) | .yanked] | length > 0 and all(. == "broken")' <<<"$page"
	swift_cat "$S3_BUCKET" "$P/web/simple/inc-pkg/index.html" | grep -q 'data-yanked="broken"'
	run swift_keys "$S3_BUCKET" "$P/."
	assert_output ""
	diff <(fs_objects "$T/fs" "$P") <(swift_sha256s "$S3_BUCKET" "$P/")
}

@test "2108 index-write --config (bandersnatch's form): a removal past --max-deletions is an error and deletes nothing; within it, pages and files go" {
	s3_conf
	jq -c 'select(.name == "demo-pkg")' "$ALL" >"$T/one.ndjson"
	n=$(jq '[.files[].path] | unique | length' "$T/one.ndjson")
	(( n > 1 ))
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_ENDPOINT_URL \
		sh -c 'artifact-get -q --config "$1" <"$2" | index-write -q --config "$1"' _ "$T/conf" "$T/one.ndjson" >"$T/out"
	jq -e 'select(.type == "synced") | .name == "demo-pkg"' "$T/out"
	before=$(swift_keys "$S3_BUCKET" "$P/")
	grep -qxF "$P/web/simple/demo-pkg/index.v1_json" <<<"$before"
	jq -cn '{type:"removal",name:"demo-pkg",serial:99}' >"$T/rm.ndjson"
	run --separate-stderr env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_ENDPOINT_URL \
		index-write --config "$T/conf" --max-deletions 1 <"$T/rm.ndjson"
	assert_failure 1
	[[ "$stderr" == *"deletion cap of 1 files reached"* ]]
	[[ "$(swift_keys "$S3_BUCKET" "$P/")" == "$before" ]]
	run --separate-stderr env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_ENDPOINT_URL \
		index-write --config "$T/conf" <"$T/rm.ndjson"
	assert_success
	jq -e --argjson n "$n" 'select(.type == "synced") | .removed and .deleted == $n' <<<"$output"
	run swift_keys "$S3_BUCKET" "$P/web/"
	assert_output - <<-EOF
	$P/web/simple/index.html
	$P/web/simple/index.v1_html
	$P/web/simple/index.v1_json
	EOF
}

@test "2109 index-write -d s3://: a project whose files are not in the store is an error record, and no page of it is stored" {
	jq -c 'select(.name == "demo-pkg")' "$ALL" >"$T/one.ndjson"
	fn=$(jq -r '.files[0].filename' "$T/one.ndjson")
	run --separate-stderr index-write -d "$S3" <"$T/one.ndjson"
	assert_failure 1
	jq -e 'select(.type == "error") | .name == "demo-pkg" and .reason == "file missing in the store"' <<<"$output"
	[[ "$stderr" == *"demo-pkg: "*": file missing in the store"* ]]
	run swift_keys "$S3_BUCKET" "$P/web/simple/demo-pkg/"
	assert_output ""
}

@test "2110 index-write -d s3://: wrong credentials exit 3 naming the store, writing nothing and no secret in the log" {
	jq -c 'select(.name == "demo-pkg")' "$ALL" >"$T/one.ndjson"
	AWS_SECRET_ACCESS_KEY=not-the-secret run --separate-stderr index-write -d "$S3" <"$T/one.ndjson"
	assert_failure 3
	[[ "$stderr" == *"$S3: $S3_ENDPOINT: cannot list bucket $S3_BUCKET: HTTP 403 (SignatureDoesNotMatch"* ]]
	[[ "$stderr" != *"not-the-secret"* ]]
	run swift_keys "$S3_BUCKET" "$P/"
	assert_output ""
}

@test "2131 artifact-get -d s3:// streams each download into its upload: the same keys and bytes as a filesystem mirror, companions too" {
	run --separate-stderr artifact-get -v -d "$S3" <"$ALL"
	assert_success
	[[ "$stderr" == *"Uploading: $P/web/packages/"* ]]
	mkdir -p "$T/fs"
	artifact-get -q -d "$T/fs" <"$ALL" >/dev/null
	diff <(fs_objects "$T/fs/web" "$P/web") <(have_objects "$P")
	diff <(want_objects "$ALL" "$P") <(have_objects "$P")
	# Every object carries PyPI's sha256 in its metadata, companions too.
	while read -r key sha; do
		swift_head "$S3_BUCKET" "$key" | grep -qxF "x-object-meta-sha256: $sha" || fail "$key: no sha256 $sha"
	done < <(want_objects "$ALL" "$P" | head -6)
}

@test "2132 artifact-get -d s3:// (streamed): nothing on local disk during or after the sync, memory flat for a 40 MB file" {
	admin new-project name=big-pkg version=1.0 sdist=0 wheels=py3-none-any pad=40000000
	jq -cn '{name:"big-pkg"}' | pkg-resolve -q >"$T/big.ndjson"
	(( $(jq '.files[0].size' "$T/big.ndjson") > 40000000 ))
	# No scratch directory can be made: the streamed path needs none.
	TMPDIR="$T/no-such-dir" /usr/bin/time -f '%M' -o "$T/rss" artifact-get -q -d "$S3" <"$T/big.ndjson" >"$T/out"
	jq -e 'select(.name == "big-pkg") | .files_fetched >= 1' "$T/out"
	diff <(want_objects "$T/big.ndjson" "$P") <(have_objects "$P")
	# The body never sat whole in memory (the file alone is 40 MB): the peak
	# is about that of a run with one small project (under the sanitizers,
	# whose shadow memory lifts both), and within 32 MB on a plain build.
	jq -c 'select(.type == "project")' "$ALL" | head -1 >"$T/small.ndjson"
	TMPDIR="$T/no-such-dir" /usr/bin/time -f '%M' -o "$T/rss-small" artifact-get -q -d "$S3-small" <"$T/small.ndjson" >/dev/null
	(( $(cat "$T/rss") - $(cat "$T/rss-small") < 16384 )) || fail "peak RSS $(cat "$T/rss") KiB, $(cat "$T/rss-small") KiB for a small project"
	sanitized_build || (( $(cat "$T/rss") < 32768 )) || fail "peak RSS $(cat "$T/rss") KiB"
	[ ! -e "$T/no-such-dir" ]
	# No file is created or opened for writing at all, while it runs.
	command -v strace >/dev/null || skip "no strace to watch the run"
	# (LeakSanitizer cannot run under ptrace: off for this run of a
	# sanitized build; the runs above check for leaks.)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -e trace=open,openat,creat -o "$T/trace" artifact-get -q -d "s3://$S3_BUCKET/${P}b" <"$ALL" >/dev/null
	diff <(want_objects "$ALL" "${P}b") <(have_objects "${P}b")
	run grep -E 'O_WRONLY|O_RDWR|O_CREAT|creat\(' "$T/trace"
	assert_output ""
}

@test "2133 artifact-get -d s3:// (streamed): a corrupt upstream file leaves no object and an error record naming project, file and reason; the store itself refuses a body whose x-amz-content-sha256 does not match" {
	rec=$(jq -c 'select(.name == "demo-pkg")' "$ALL")
	IFS=$'\t' read -r path fn sha < <(jq -r '.files[0] | [.path, .filename, .sha256] | @tsv' <<<"$rec")
	admin fault path="/$path" kind=corrupt
	run --separate-stderr artifact-get -d "$S3" <<<"$rec"
	assert_failure 1
	jq -e --arg f "$fn" 'select(.type == "error") | .name == "demo-pkg" and (.file | startswith($f)) and (.reason | startswith("sha256 mismatch (got "))' <<<"$output"
	[[ "$stderr" == *"Project demo-pkg: file $fn from "*": sha256 mismatch"* ]]
	# (The fault covers the companion too: neither is stored.)
	run swift_keys "$S3_BUCKET" "$P/web/$path"
	assert_output ""
	# What the streamed PUT relies on, asked of this Swift with curl: a whole
	# body under a wrong x-amz-content-sha256 is refused (400 BadDigest) and
	# nothing is stored.
	head -c 5000 /dev/urandom >"$T/body"
	hp=${S3_ENDPOINT#http://}
	url="http://$(jq -rn --arg k "$AWS_ACCESS_KEY_ID" '$k|@uri'):$AWS_SECRET_ACCESS_KEY@$hp/$S3_BUCKET/$P/bad"
	code=$(curl -sS -o "$T/resp" -w '%{http_code}' --aws-sigv4 "aws:amz:$S3_REGION:s3" -T "$T/body" "$url" \
		-H "x-amz-content-sha256: $sha")
	assert_equal "$code" 400
	grep -q '<Code>BadDigest</Code>' "$T/resp"
	run swift_keys "$S3_BUCKET" "$P/bad"
	assert_output ""
	code=$(curl -sS -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:$S3_REGION:s3" -T "$T/body" "$url" \
		-H "x-amz-content-sha256: $(sha256sum <"$T/body" | cut -d' ' -f1)")
	assert_equal "$code" 200
}

@test "2134 artifact-get --s3-upload scratch and [s3] upload = scratch: verified in TMPDIR, then uploaded; nothing left there" {
	jq -c 'select(.name == "demo-pkg")' "$ALL" >"$T/one.ndjson"
	mkdir "$T/tmp"
	TMPDIR="$T/tmp" run --separate-stderr artifact-get -d "$S3" --s3-upload scratch <"$T/one.ndjson"
	assert_success
	diff <(want_objects "$T/one.ndjson" "$P") <(have_objects "$P")
	run find "$T/tmp" -mindepth 1
	assert_output ""
	# It does go through TMPDIR: without one it cannot start.
	TMPDIR="$T/no-such-dir" run --separate-stderr artifact-get -d "s3://$S3_BUCKET/${P}b" --s3-upload scratch <"$T/one.ndjson"
	assert_failure 3
	[[ "$stderr" == *"cannot create a scratch directory $T/no-such-dir/"* ]]
	# The configuration's form; and the option names what it wants.
	P="${P}c" s3_conf "upload = scratch"
	TMPDIR="$T/no-such-dir" run --separate-stderr env -u AWS_ACCESS_KEY_ID artifact-get --config "$T/conf" <"$T/one.ndjson"
	assert_failure 3
	TMPDIR="$T/tmp" artifact-get -q --config "$T/conf" <"$T/one.ndjson" >/dev/null
	diff <(want_objects "$T/one.ndjson" "${P}c") <(have_objects "${P}c")
	run --separate-stderr artifact-get -d "$S3" --s3-upload disk </dev/null
	assert_failure 2
	[[ "$stderr" == *"--s3-upload wants stream or scratch, not 'disk'"* ]]
	s3_conf "upload = disk"
	run --separate-stderr artifact-get --config "$T/conf" </dev/null
	assert_failure 2
	[[ "$stderr" == *"[s3] upload disk: stream or scratch"* ]]
}

@test "2135 artifact-get -d s3:// (streamed): a download cut short is tried again as a pair; the store gets the whole file once" {
	rec=$(jq -c 'select(.name == "demo-pkg")' "$ALL")
	path=$(jq -r '.files[0].path' <<<"$rec")
	admin fault path="/$path" kind=truncate count=1
	run --separate-stderr artifact-get -d "$S3" <<<"$rec"
	assert_success
	# The fault cuts the first GET of the file or of its companion (the
	# path is a prefix of both): three GETs of the two in all.
	n=$(package_gets "$path")
	[[ $n == 3 ]] || fail "$n GETs of $path and its companion: $stderr"
	[[ "$stderr" == *"Transferred a partial file"*"downloading again (1 of 2)"* ]]
	diff <(want_objects <(echo "$rec") "$P") <(have_objects "$P")
}

@test "2136 index-write -d s3://: the HEADs before a page run at once, and the error still names the first file missing in the record's order" {
	jq -c 'select(.name == "demo-pkg")' "$ALL" >"$T/one.ndjson"
	(( $(jq '.files | length' "$T/one.ndjson") >= 3 ))
	# Not vouched for by artifact-get (stored_at): index-write looks them up.
	artifact-get -q -d "$S3" <"$T/one.ndjson" | jq -c 'del(.stored_at)' >"$T/ready.ndjson"
	IFS=$'\t' read -r p1 f1 p2 < <(jq -r '[.files[1].path, .files[1].filename, .files[2].path] | @tsv' "$T/one.ndjson")
	for p in "$p2" "$p1"; do
		curl -fsS -o /dev/null -X DELETE -H "X-Auth-Token: $(_swift_token)" "$SWIFT_URL/$S3_BUCKET/$P/web/$p"
	done
	run --separate-stderr index-write -d "$S3" <"$T/ready.ndjson"
	assert_failure 1
	jq -e --arg f "$f1" 'select(.type == "error") | .file == $f and .reason == "file missing in the store"' <<<"$output"
	run swift_keys "$S3_BUCKET" "$P/web/simple/demo-pkg/"
	assert_output ""
}

@test "2141 mirror-state held and changelog-fetch -d s3://: the root index object streams through a private temporary, never whole in memory (a 40 MB root)" {
	# Two projects padded with 40 MB of whitespace (still valid JSON): the
	# list is tiny, the object is not. The same two without the padding,
	# under another prefix, give the baseline.
	root() {
		printf '{"meta":{"_last-serial":5,"api-version":"1.1"},"projects":[{"_last-serial":5,"name":"held-one"},'
		[ "$1" = 0 ] || head -c "$1" /dev/zero | tr '\0' ' '
		printf '{"_last-serial":4,"name":"Held_Two"}]}'
	}
	root 40000000 >"$T/big.json"
	root 0 >"$T/small.json"
	swift_put "$S3_BUCKET" "$P/web/simple/index.v1_json" "$T/big.json"
	swift_put "$S3_BUCKET" "$P-small/web/simple/index.v1_json" "$T/small.json"
	mkdir "$T/tmp"
	want='{"name":"held-one","serial":5}
{"name":"held-two","serial":4}'
	for p in "$P" "$P-small"; do
		TMPDIR="$T/tmp" /usr/bin/time -f '%M' -o "$T/$p.ms.rss" mirror-state -q -d "s3://$S3_BUCKET/$p" held >"$T/held"
		[ "$(cat "$T/held")" = "$want" ] || fail "mirror-state held on $p: $(cat "$T/held")"
		# Upstream lists neither: both are asked about again (removals).
		TMPDIR="$T/tmp" /usr/bin/time -f '%M' -o "$T/$p.cf.rss" changelog-fetch -q -d "s3://$S3_BUCKET/$p" -s 0 >"$T/cf"
		jq -e -s '[.[] | select(.type == "project" and (.name == "held-one" or .name == "held-two"))] | length == 2' "$T/cf"
	done
	run ls -A "$T/tmp"
	assert_output ""
	for t in ms cf; do
		big=$(tail -1 "$T/$P.$t.rss") small=$(tail -1 "$T/$P-small.$t.rss")
		echo "$t peak RSS: $big KiB (40 MB root), $small KiB (small root)" >&3
		(( big - small < 16384 )) || fail "$t: peak RSS $big KiB with the 40 MB root, $small KiB without"
		sanitized_build mirror-state || (( big < 32768 )) || fail "$t: peak RSS $big KiB"
	done
}

# Swift holds KEY ($2) in bucket $1 (through Swift's own API).
swift_has() { [[ -n "$(swift_keys "$1" "$2" | grep -xF "$2")" ]]; }

@test "2137 index-write -d s3:// -j 3: several projects in flight; one whose file is missing fails alone, the others and a second record of one name land, the root lists them" {
	artifact-get -q -d "$S3" <"$ALL" >"$T/ready.ndjson"
	(( $(jq -s length "$T/ready.ndjson") >= 4 ))
	IFS=$'\t' read -r bad path fn < <(jq -r 'select(.type == "project") | [.name, .files[0].path, .files[0].filename] | @tsv' "$T/ready.ndjson" | sed -n 2p)
	twice=$(jq -r 'select(.type == "project") | .name' "$T/ready.ndjson" | sed -n 3p)
	curl -fsS -o /dev/null -X DELETE -H "X-Auth-Token: $(_swift_token)" "$SWIFT_URL/$S3_BUCKET/$P/web/$path"
	# Looked up, not vouched for: the records as they were before artifact-get.
	{ jq -c 'del(.stored_at)' "$T/ready.ndjson"; jq -c --arg n "$twice" 'select(.name == $n) | del(.stored_at)' "$T/ready.ndjson"; } >"$T/in.ndjson"
	run --separate-stderr index-write -q -j 3 -d "$S3" <"$T/in.ndjson"
	assert_failure 1
	jq -se --arg n "$bad" --arg f "$fn" 'map(select(.type == "error")) | length == 1 and .[0].name == $n and .[0].file == $f and .[0].reason == "file missing in the store"' <<<"$output"
	# Every other record (the repeated name twice) synced.
	diff <(jq -r 'select(.name != "'"$bad"'") | .name' "$T/in.ndjson" | sort) <(jq -r 'select(.type == "synced") | .name' <<<"$output" | sort)
	run swift_keys "$S3_BUCKET" "$P/web/simple/$bad/"
	assert_output ""
	for n in $(jq -r 'select(.name != "'"$bad"'") | .name' "$T/in.ndjson" | sort -u); do
		swift_cat "$S3_BUCKET" "$P/web/simple/$n/index.v1_json" | jq -r '.files[].url' | sed "s|^\.\./\.\./|$P/web/|; s|#.*||" |
			while read -r k; do swift_has "$S3_BUCKET" "$(printf '%b' "${k//%/\\x}")" || fail "$n links $k, not in the store"; done
		swift_has "$S3_BUCKET" "$P/web/simple/$n/index.html" || fail "$n: no index.html"
	done
	diff <(jq -r 'select(.name != "'"$bad"'") | .display_name // .name' "$T/in.ndjson" | sort -u) \
		<(swift_cat "$S3_BUCKET" "$P/web/simple/index.v1_json" | jq -r '.projects[].name' | sort)
	# The failed project's files stay tracked for its next page: the
	# records were not vouched for, so index-write did not take their
	# unlisted batch, which stays and names them.
	batch=$(jq -r 'select(.type == "project") | .journal_batch.name' "$T/ready.ndjson" | sort -u)
	swift_cat "$S3_BUCKET" "$P/.unlisted/$batch" | grep -qxF "$bad $path"
}

@test "2138 artifact-get | index-write -d s3:// -j 8: a project whose file is slow upstream has no page until that file is stored, while the projects after it land" {
	jq -c 'select(.type == "project")' "$ALL" | head -4 >"$T/four.ndjson"
	IFS=$'\t' read -r slow path url < <(jq -r '[.name, .files[0].path, .files[0].url] | @tsv' "$T/four.ndjson" | head -1)
	last=$(jq -r .name "$T/four.ndjson" | tail -1)
	# (4 s before the answer, then a trickle: under the tools' 5 s stall limit)
	admin fault path="/${url#*://*/}" kind=slow delay=4
	(artifact-get -q -d "$S3" <"$T/four.ndjson" | index-write -q -j 8 -d "$S3" >"$T/out") &
	wait_until 60 "the page of $last" swift_has "$S3_BUCKET" "$P/web/simple/$last/index.v1_json"
	# The first project is still on its slow file: a page of it now
	# would link a file the store does not hold.
	swift_has "$S3_BUCKET" "$P/web/simple/$slow/index.html" && { swift_has "$S3_BUCKET" "$P/web/$path" || fail "$slow's page before its file"; }
	wait
	admin clear-faults
	[[ $(jq -s 'map(select(.type == "synced")) | length' "$T/out") == 4 ]]
	swift_has "$S3_BUCKET" "$P/web/$path"
	diff <(want_objects "$T/four.ndjson" "$P") <(have_objects "$P" | grep -F "$P/web/packages/")
}

@test "2139 stored_at: index-write looks the files up when a record vouches for another store or prefix; artifact-get drops one it reads" {
	jq -c 'select(.name == "demo-pkg")' "$ALL" >"$T/one.ndjson"
	artifact-get -q -d "$S3" <"$T/one.ndjson" >"$T/ready.ndjson"
	IFS=$'\t' read -r path fn < <(jq -r '[.files[0].path, .files[0].filename] | @tsv' "$T/one.ndjson")
	curl -fsS -o /dev/null -X DELETE -H "X-Auth-Token: $(_swift_token)" "$SWIFT_URL/$S3_BUCKET/$P/web/$path"
	for at in "$S3_ENDPOINT/$S3_BUCKET/${P}x" "http://other.invalid/$S3_BUCKET/$P"; do
		jq -c --arg at "$at" '.stored_at = $at' "$T/ready.ndjson" >"$T/vouched.ndjson"
		run --separate-stderr index-write -q -d "$S3" <"$T/vouched.ndjson"
		assert_failure 1
		jq -e --arg f "$fn" 'select(.type == "error") | .file == $f and .reason == "file missing in the store"' <<<"$output"
		run swift_keys "$S3_BUCKET" "$P/web/simple/demo-pkg/"
		assert_output ""
	done
	# A record that already carries one (an earlier pass's) loses it: what
	# comes out names where this pass put the files (on a filesystem, its
	# web/ by device and inode), or nothing with --no-metadata.
	mkdir -p "$T/fs"
	jq -c '.stored_at = "x"' "$T/one.ndjson" | artifact-get -q -d "$T/fs" >"$T/fs.out"
	jq -e --arg id "$(stat -c %d:%i "$T/fs/web")" 'select(.type == "project") | .stored_at == $id' "$T/fs.out"
	jq -c '.stored_at = "x"' "$T/one.ndjson" | artifact-get -q --no-metadata -d "$T/fs" >"$T/fs.out"
	jq -e 'select(.type == "project") | has("stored_at") | not' "$T/fs.out"
}

@test "2140 artifact-get -d s3://: a project with a journal but no page (a failed first sync) has its stored files looked up, not fetched again; one with neither is fetched whole" {
	rec=$(jq -c 'select(any(.files[]; .packagetype == "sdist")) | select((.files | length) >= 2)' "$ALL" | head -1)
	name=$(jq -r .name <<<"$rec")
	path=$(jq -r '[.files[] | select(.packagetype == "sdist")][0].path' <<<"$rec")
	admin fault path="/$path" kind=corrupt
	run --separate-stderr artifact-get -q -d "$S3" <<<"$rec"
	assert_failure 1
	admin clear-faults
	swift_has "$S3_BUCKET" "$P/.unlisted/$name"
	run swift_keys "$S3_BUCKET" "$P/web/simple/"
	assert_output ""
	admin reset-stats
	run --separate-stderr artifact-get -q -d "$S3" <<<"$rec"
	assert_success
	# Only the file that failed is downloaded again: the store was asked
	# about the others.
	[[ "$(package_gets)" == 1 ]]
	[[ "$(package_gets "$path")" == 1 ]]
	diff <(want_objects <(echo "$rec") "$P") <(have_objects "$P")
	# In a prefix with nothing of it, every file and companion is fetched.
	admin reset-stats
	artifact-get -q -d "$S3-fresh" <<<"$rec" >/dev/null
	[[ "$(package_gets)" == "$(want_objects <(echo "$rec") "$P" | wc -l)" ]]
	diff <(want_objects <(echo "$rec") "$P-fresh") <(have_objects "$P-fresh")
}

@test "2142 new_to_store: artifact-get marks a project the store holds nothing of (not a second record of it in the run, not one with a page); index-write then reads no old page, and the journal is gone when the run ends" {
	jq -c 'select(.name == "demo-pkg")' "$ALL" >"$T/one.ndjson"
	cat "$T/one.ndjson" "$T/one.ndjson" | artifact-get -q -d "$S3" >"$T/ready.ndjson"
	# The first record of the name is new to the store; the second finds
	# what the first left (its journal), so it is not.
	[[ "$(jq -s 'map(select(.type == "project")) | length' "$T/ready.ndjson")" == 2 ]]
	[[ "$(jq -s 'map(select(.new_to_store == true)) | length' "$T/ready.ndjson")" == 1 ]]
	run --separate-stderr index-write -q -d "$S3" <"$T/ready.ndjson"
	assert_success
	[[ "$(jq -s 'map(select(.type == "synced")) | length' <<<"$output")" == 2 ]]
	swift_has "$S3_BUCKET" "$P/web/simple/demo-pkg/index.v1_json"
	# The page lists every file; the journal of them went with the run.
	run swift_keys "$S3_BUCKET" "$P/.unlisted/"
	assert_output ""
	# With a page in the store, artifact-get looks the files up and does not
	# mark the record.
	admin reset-stats
	artifact-get -q -d "$S3" <"$T/one.ndjson" >"$T/again.ndjson"
	[[ "$(package_gets)" == 0 ]]
	jq -e 'select(.type == "project") | has("new_to_store") | not' "$T/again.ndjson"
	# index-write takes the claim: with it, the page it replaces is not
	# read, so a file that page linked and the record dropped stays (the
	# claim is artifact-get's to make only when there is no such page);
	# without it, the old page is read and the file goes.
	IFS=$'\t' read -r path fn < <(jq -r '[.files[0].path, .files[0].filename] | @tsv' "$T/one.ndjson")
	jq -c 'select(.type == "project") | .files |= .[1:] | .new_to_store = true' "$T/again.ndjson" >"$T/claimed.ndjson"
	index-write -q -d "$S3" <"$T/claimed.ndjson" >/dev/null
	swift_has "$S3_BUCKET" "$P/web/$path"
	swift_cat "$S3_BUCKET" "$P/web/simple/demo-pkg/index.v1_json" | jq -e --arg f "$fn" 'all(.files[]; .filename != $f)'
	index-write -q -d "$S3" <"$T/again.ndjson" >/dev/null
	swift_cat "$S3_BUCKET" "$P/web/simple/demo-pkg/index.v1_json" | jq -e --arg f "$fn" 'any(.files[]; .filename == $f)'
	jq -c 'del(.new_to_store)' "$T/claimed.ndjson" | index-write -q -d "$S3" >/dev/null
	run swift_has "$S3_BUCKET" "$P/web/$path"
	assert_failure
}

@test "2143 artifact-get -d s3://: the unlisted journals are listed at start-up across listing pages; a journal on the second page is read, a project with none is new to the store" {
	rec=$(jq -c 'select(any(.files[]; .packagetype == "sdist")) | select((.files | length) >= 2)' "$ALL" | head -1)
	name=$(jq -r .name <<<"$rec")
	path=$(jq -r '[.files[] | select(.packagetype == "sdist")][0].path' <<<"$rec")
	other=$(jq -c --arg n "$name" 'select(.type == "project" and .name != $n)' "$ALL" | head -1)
	# A failed first sync leaves the project's journal and no page.
	admin fault path="/$path" kind=corrupt
	run --separate-stderr artifact-get -q -d "$S3" <<<"$rec"
	assert_failure 1
	admin clear-faults
	swift_has "$S3_BUCKET" "$P/.unlisted/$name"
	# 1,100 journals that sort before it: it is on the listing's second page.
	for i in $(seq -w 1100); do echo "$P/.unlisted/0-stray-$i"; done | swift_put_many "$S3_BUCKET"
	[[ "0-stray" < "$name" ]]
	admin reset-stats
	run --separate-stderr env PYPI_MIRROR_LOG_LEVEL=DEBUG artifact-get -d "$S3" <<<"$rec"
	assert_success
	[[ "$stderr" == *"1101 unlisted journals (2 listing pages)"* ]]
	# Found there: its stored files are looked up, only the failed one is
	# fetched again, and the record is no new project's.
	[[ "$(package_gets)" == 1 ]]
	[[ "$(package_gets "$path")" == 1 ]]
	jq -se 'map(select(.type == "project")) | length == 1 and (.[0] | has("new_to_store") | not)' <<<"$output"
	# A project with no journal among them (and no page) is new: fetched
	# whole, without a request about it.
	admin reset-stats
	run --separate-stderr artifact-get -q -d "$S3" <<<"$other"
	assert_success
	[[ "$(package_gets)" == "$(want_objects <(echo "$other") "$P" | wc -l)" ]]
	jq -se 'map(select(.type == "project")) | length == 1 and .[0].new_to_store == true' <<<"$output"
}

@test "2144 index-write -d s3://: a pending-deletions journal a killed run left is in the listing at start-up: the project's next page completes its deletions, and the journal goes" {
	jq -c 'select(.name == "demo-pkg")' "$ALL" >"$T/one.ndjson"
	artifact-get -q -d "$S3" <"$T/one.ndjson" | index-write -q -d "$S3" >/dev/null
	# A file of the project no page links, and the journal that dooms it.
	IFS=$'\t' read -r path fn < <(jq -r '[.files[0].path, .files[0].filename] | @tsv' "$T/one.ndjson")
	doomed="${path%/*}/demo_pkg-0.0.1.tar.gz"
	echo data >"$T/f"
	swift_put "$S3_BUCKET" "$P/web/$doomed" "$T/f"
	echo "$doomed" >"$T/j"
	swift_put "$S3_BUCKET" "$P/.pending-deletions/demo-pkg" "$T/j"
	artifact-get -q -d "$S3" <"$T/one.ndjson" >"$T/ready.ndjson"
	run --separate-stderr env PYPI_MIRROR_LOG_LEVEL=DEBUG index-write -d "$S3" <"$T/ready.ndjson"
	assert_success
	[[ "$stderr" == *"1 pending-deletions journals (1 listing pages)"* ]]
	run swift_has "$S3_BUCKET" "$P/web/$doomed"
	assert_failure
	run swift_keys "$S3_BUCKET" "$P/.pending-deletions/"
	assert_output ""
	swift_has "$S3_BUCKET" "$P/web/$path"
}

@test "2145 index-write -d s3://: the root pages go up from scratch streamed, never whole in memory (400,000 projects, 20 MB pages)" {
	# A root of N real projects (a padded one would not do: index-write
	# writes the pages anew from the list), 16-character names in order,
	# serials of 8 digits as PyPI's.
	root() {
		awk -v n="$1" 'BEGIN {
			printf "{\"meta\":{\"_last-serial\":20400000,\"api-version\":\"1.1\"},\"projects\":["
			for (i = 1; i <= n; i++) printf "%s{\"_last-serial\":%d,\"name\":\"p%015d\"}", (i > 1 ? "," : ""), 20000000 + i, i
			printf "]}"
		}'
	}
	root 400000 >"$T/big.json"
	root 2 >"$T/small.json"
	swift_put "$S3_BUCKET" "$P/web/simple/index.v1_json" "$T/big.json"
	swift_put "$S3_BUCKET" "$P-small/web/simple/index.v1_json" "$T/small.json"
	mkdir "$T/tmp"
	# No record: --serial moves, so the root is written and stored again.
	for p in "$P" "$P-small"; do
		TMPDIR="$T/tmp" /usr/bin/time -f '%M' -o "$T/$p.rss" index-write -q -d "s3://$S3_BUCKET/$p" --serial 20400001 </dev/null
		swift_cat "$S3_BUCKET" "$p/web/simple/index.v1_json" | jq -e '.meta."_last-serial" == 20400001' >/dev/null
	done
	run ls -A "$T/tmp"
	assert_output ""
	# What landed: every project, in every page, with its type.
	swift_cat "$S3_BUCKET" "$P/web/simple/index.v1_json" >"$T/got.json"
	jq -e '(.projects | length) == 400000 and .projects[-1].name == "p000000000400000"' "$T/got.json" >/dev/null
	for page in index.html index.v1_html; do
		swift_cat "$S3_BUCKET" "$P/web/simple/$page" >"$T/$page"
		[[ $(grep -c '^<a href="p[0-9]*/">p[0-9]*</a>$' "$T/$page") == 400000 ]] || fail "$page: $(grep -c '<a href' "$T/$page") links"
		tail -c 15 "$T/$page" | grep -qx '</html>' || fail "$page: $(tail -c 40 "$T/$page")"
	done
	swift_head "$S3_BUCKET" "$P/web/simple/index.html" | grep -qx 'content-type: text/html.*'
	swift_head "$S3_BUCKET" "$P/web/simple/index.v1_html" | grep -qx 'content-type: application/vnd.pypi.simple.v1+html.*'
	swift_head "$S3_BUCKET" "$P/web/simple/index.v1_json" | grep -qx 'content-type: application/vnd.pypi.simple.v1+json.*'
	# index-write holds the project list by design (the name and 16 bytes
	# a project: 12.8 MB here), never a page: it grows by less than one.
	big=$(tail -1 "$T/$P.rss") small=$(tail -1 "$T/$P-small.rss") page=$(($(stat -c %s "$T/index.html") / 1024))
	echo "index-write peak RSS: $big KiB (400,000 projects), $small KiB (2); a root HTML page $page KiB" >&3
	(( big - small < page )) || fail "peak RSS $big KiB with 400,000 projects, $small KiB with 2: more than a $page KiB page"
	sanitized_build index-write || (( big < 32768 )) || fail "peak RSS $big KiB"
}

@test "2150 index-write and artifact-get -d s3://: requests under way when the input has no more go on; the record comes out while the input stays open" {
	jq -c 'select(.name == "demo-pkg")' "$ALL" >"$T/one.ndjson"
	first_record_while_open "$T/one.ndjson" artifact-get -d "$S3"
	jq -e 'select(.type == "project") | .files_fetched > 0' <<<"$line"
	echo "$line" >"$T/ready.ndjson"
	first_record_while_open "$T/ready.ndjson" index-write -d "$S3"
	assert_equal "$(jq -r '[.type, .name] | join(" ")' <<<"$line")" "synced demo-pkg"
	run swift_keys "$S3_BUCKET" "$P/web/simple/demo-pkg/"
	assert_output --partial "$P/web/simple/demo-pkg/index.v1_json"
}

@test "2151 journal_new on a store: a project with a page whose new files artifact-get uploads has its journal made in the pass, and index-write removes it unread" {
	jq -c 'select(.name == "demo-pkg")' "$ALL" >"$T/one.ndjson"
	artifact-get -q -d "$S3" <"$T/one.ndjson" | index-write -q -d "$S3" >/dev/null
	swift_has "$S3_BUCKET" "$P/web/simple/demo-pkg/index.v1_json"
	# One file gone from the store: the next pass uploads it again, with a
	# journal made fresh (the listing at start-up shows none) for a project
	# that has a page: journal_new, not new_to_store.
	IFS=$'\t' read -r path fn < <(jq -r '[.files[0].path, .files[0].filename] | @tsv' "$T/one.ndjson")
	curl -fsS -o /dev/null -X DELETE -H "X-Auth-Token: $(_swift_token)" "$SWIFT_URL/$S3_BUCKET/$P/web/$path"
	artifact-get -q -d "$S3" <"$T/one.ndjson" >"$T/ready.ndjson"
	jq -e 'select(.type == "project") | .journal_new == true and (has("new_to_store") | not) and .files_fetched == 1' "$T/ready.ndjson"
	swift_has "$S3_BUCKET" "$P/.unlisted/demo-pkg"
	run --separate-stderr index-write -q -d "$S3" <"$T/ready.ndjson"
	assert_success
	run swift_keys "$S3_BUCKET" "$P/.unlisted/"
	assert_output ""
	# index-write takes the claim: a journal there that lists a stray (as
	# if another pass had made it) is not read with it, so the stray stays;
	# without it the journal is read and the stray goes.
	stray="packages/ee/ee/$(printf 'e%.0s' {1..60})/demo_pkg-0.0.1.tar.gz"
	swift_put "$S3_BUCKET" "$P/web/$stray" <(echo stray)
	swift_put "$S3_BUCKET" "$P/.unlisted/demo-pkg" <(echo "$stray")
	index-write -q -d "$S3" <"$T/ready.ndjson" >/dev/null
	swift_has "$S3_BUCKET" "$P/web/$stray"
	run swift_keys "$S3_BUCKET" "$P/.unlisted/"
	assert_output ""
	swift_put "$S3_BUCKET" "$P/.unlisted/demo-pkg" <(echo "$stray")
	jq -c 'del(.journal_new)' "$T/ready.ndjson" | index-write -q -d "$S3" >/dev/null
	run swift_has "$S3_BUCKET" "$P/web/$stray"
	assert_failure
	swift_has "$S3_BUCKET" "$P/web/$path"
}

@test "2152 unlisted batch: the projects new to the store that artifact-get reads together share one journal object; index-write removes it once all are out; one that failed keeps its files tracked in a journal of its own" {
	rec=$(jq -c 'select(any(.files[]; .packagetype == "sdist"))' "$ALL" | head -1)
	bad=$(jq -r .name <<<"$rec")
	path=$(jq -r '[.files[] | select(.packagetype == "sdist")][0].path' <<<"$rec")
	nall=$(jq -s 'map(select(.type == "project")) | length' "$ALL")
	admin fault path="/$path" kind=corrupt
	run --separate-stderr artifact-get -q -d "$S3" <"$ALL"
	assert_failure 1
	admin clear-faults
	jq -c 'select(.type == "project")' <<<"$output" >"$T/ready.ndjson"
	# One batch for all of them (the failed one counts too).
	batch=$(jq -r .journal_batch.name "$T/ready.ndjson" | sort -u)
	[[ "$batch" == +* && "$batch" != *$'\n'* ]]
	jq -se --argjson n "$nall" 'length == $n - 1 and all(.journal_batch.projects == $n)' "$T/ready.ndjson"
	[[ "$(swift_cat "$S3_BUCKET" "$P/.unlisted/$batch" | cut -d' ' -f1 | sort -u | wc -l)" == "$nall" ]]
	# The failed project's paths went to its own journal.
	swift_cat "$S3_BUCKET" "$P/.unlisted/$bad" | grep -qxF "$path"
	# Every project index-write is given lands: the batch goes with the run.
	index-write -q -d "$S3" <"$T/ready.ndjson" >"$T/out"
	[[ "$(jq -s 'map(select(.type == "synced")) | length' "$T/out")" == $((nall - 1)) ]]
	run swift_keys "$S3_BUCKET" "$P/.unlisted/"
	assert_output "$P/.unlisted/$bad"

	# Again into a fresh prefix, and index-write does not get one of the
	# records (as if it had failed it): at its end that project gets a
	# journal of its own, listing its files, and the batch goes.
	S3x="$S3-x"
	artifact-get -q -d "$S3x" <"$ALL" >"$T/ready2.ndjson"
	left=$(jq -r 'select(.type == "project") | .name' "$T/ready2.ndjson" | head -1)
	jq -c --arg n "$left" 'select(.type == "project" and .name != $n)' "$T/ready2.ndjson" | index-write -q -d "$S3x" >/dev/null
	run swift_keys "$S3_BUCKET" "$P-x/.unlisted/"
	assert_output "$P-x/.unlisted/$left"
	diff <(jq -r --arg n "$left" 'select(.name == $n) | .files[].path' "$ALL" | sort) \
		<(swift_cat "$S3_BUCKET" "$P-x/.unlisted/$left" | sort)

	# A batch a killed run left (artifact-get's, before any index-write):
	# the next artifact-get expands it into its projects' journals first,
	# so none of them is new to the store, and it goes.
	artifact-get -q -d "$S3-y" <"$ALL" >/dev/null
	batch=$(swift_keys "$S3_BUCKET" "$P-y/.unlisted/" | sed 's|.*/||')
	[[ "$batch" == +* ]]
	run --separate-stderr artifact-get -d "$S3-y" <"$ALL"
	assert_success
	[[ "$stderr" == *"Expanding the unlisted batch $batch"* ]]
	jq -se 'map(select(.type == "project")) | length > 0 and all(has("new_to_store") or has("journal_batch") | not)' <<<"$output"
	diff <(jq -r 'select(.type == "project") | .name' "$ALL" | sed "s|^|$P-y/.unlisted/|" | LC_ALL=C sort) <(swift_keys "$S3_BUCKET" "$P-y/.unlisted/")

	# With --no-metadata a record vouches for nothing (no stored_at), so
	# index-write could not take a batch: each project has its own journal.
	artifact-get -q --no-metadata -d "$S3-z" <"$ALL" >"$T/nm.ndjson"
	jq -se 'length > 0 and all(has("journal_batch") | not)' "$T/nm.ndjson"
	diff <(jq -r 'select(.type == "project") | .name' "$ALL" | sed "s|^|$P-z/.unlisted/|" | LC_ALL=C sort) <(swift_keys "$S3_BUCKET" "$P-z/.unlisted/")
}

@test "2153 index-write -d s3://: a project whose pages are as stored has none stored again (its JSON page says which HTML it came after); one whose JSON page does not say so has all three" {
	jq -c 'select(.name == "demo-pkg")' "$ALL" >"$T/one.ndjson"
	artifact-get -q -d "$S3" <"$T/one.ndjson" >"$T/ready.ndjson"
	index-write -q -d "$S3" <"$T/ready.ndjson" >/dev/null
	d="$P/web/simple/demo-pkg"
	stamps() { for v in index.html index.v1_html index.v1_json; do swift_head "$S3_BUCKET" "$d/$v" | grep '^x-timestamp:'; done; }
	swift_head "$S3_BUCKET" "$d/index.v1_json" | grep -qxF "x-object-meta-html-sha256: $(swift_cat "$S3_BUCKET" "$d/index.html" | sha256sum | cut -d' ' -f1)"
	before=$(stamps)
	# The same project again (an idle pass): every page as stored, none written.
	artifact-get -q -d "$S3" <"$T/one.ndjson" >"$T/ready.ndjson"
	index-write -q -d "$S3" <"$T/ready.ndjson" >/dev/null
	assert_equal "$(stamps)" "$before"
	# A JSON page that does not vouch for the HTML pages (stored some other
	# way, or before this): all three are stored again, and it then does.
	swift_cat "$S3_BUCKET" "$d/index.v1_json" >"$T/page.json"
	swift_put "$S3_BUCKET" "$d/index.v1_json" "$T/page.json"
	before=$(stamps)
	index-write -q -d "$S3" <"$T/ready.ndjson" >/dev/null
	after=$(stamps)
	for i in 1 2 3; do
		[[ "$(sed -n ${i}p <<<"$before")" != "$(sed -n ${i}p <<<"$after")" ]] || fail "page $i not stored again"
	done
	swift_head "$S3_BUCKET" "$d/index.v1_json" | grep -q '^x-object-meta-html-sha256:'
}
