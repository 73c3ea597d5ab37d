#!/usr/bin/env bats
# 26NN: mirror-verify -d s3://BUCKET/PREFIX against a real OpenStack Swift
# with its S3 API (one for the file). Each test syncs the emulator's
# projects into its own prefix (artifact-get | index-write -d s3://), damages
# it through Swift's own API (tests/lib/swift.bash), and checks what verify
# names, what --gc removes, that a killed verify resumes from its local
# checkpoint, and that its memory does not grow with the store.

load lib/common
load lib/swift

setup_file() {
	emu_file_start --projects 6 --seed 3
	swift_file_start
	export PYPI_MIRROR_UPSTREAM="$EMU_URL" PYPI_MIRROR_ALLOW_NON_HTTPS=1
	export PYPI_MIRROR_RETRIES=1 PYPI_MIRROR_BACKOFF=0.1 PYPI_MIRROR_TIMEOUT=5
	simple_root | jq -r '.projects[].name' | sed 's/.*/{"name":"&"}/' | pkg-resolve -q >"$BATS_FILE_TMPDIR/all.ndjson"
	# One sync; each test gets a copy of it (Swift copies server-side,
	# keeping the user metadata and types).
	artifact-get -q -d "s3://$S3_BUCKET/clean" <"$BATS_FILE_TMPDIR/all.ndjson" |
		index-write -q -d "s3://$S3_BUCKET/clean" >/dev/null
}

teardown_file() {
	swift_file_stop
	common_teardown_file
}

setup() {
	T="$BATS_TEST_TMPDIR"
	ALL="$BATS_FILE_TMPDIR/all.ndjson"
	P="t${BATS_TEST_NUMBER}"
	S3="s3://$S3_BUCKET/$P"
	CK="$T/ck" # the local work directory (checkpoint)
}

# The clean sync's objects, copied under prefix $P.
sync_into() {
	swift_keys "$S3_BUCKET" clean/ | "$PY" -c '
import http.client, sys, urllib.parse
url, token, bucket, to = sys.argv[1:5]
u = urllib.parse.urlsplit(url)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
for line in sys.stdin:
    key = line.rstrip("\n")
    dst = to + key[len("clean"):]
    c.request("PUT", u.path + "/" + bucket + "/" + urllib.parse.quote(dst), body=b"",
              headers={"X-Auth-Token": token, "X-Copy-From": "/" + bucket + "/" + urllib.parse.quote(key)})
    r = c.getresponse()
    r.read()
    if r.status not in (200, 201):
        sys.exit("COPY %s: %d" % (key, r.status))
' "$SWIFT_URL" "$(_swift_token)" "$S3_BUCKET" "$P"
}
verify() { mirror-verify -d "$S3" --tmp "$CK" "$@" 2>"$T/verify.log"; }
# Keys of package files (not companions) under $P, relative to $P/web/.
file_keys() { swift_keys "$S3_BUCKET" "$P/web/packages/" | grep -v '\.metadata$' | sed "s|^$P/web/||"; }
problems() { jq -c -s 'map(select(.type == "problem")) | sort_by(.path, .kind)' <<<"$output"; }
count() { jq -s --arg k "$1" 'map(select(.type == "problem" and .kind == $k)) | length' <<<"$output"; }

swift_rm() { curl -fsS -o /dev/null -X DELETE -H "X-Auth-Token: $(_swift_token)" "$SWIFT_URL/$1/$(_swift_path "$2")"; }
# Replaces an object's bytes with stdin, keeping its sha256 metadata $3 ("" for none).
swift_replace() {
	local meta=()
	[ -z "${3:-}" ] || meta=(-H "X-Object-Meta-Sha256: $3")
	curl -fsS -o /dev/null -X PUT -H "X-Auth-Token: $(_swift_token)" "${meta[@]}" --data-binary @- \
		"$SWIFT_URL/$1/$(_swift_path "$2")"
}
# N stray keys spread over the hash prefixes, under $P/web/packages/.
strays() {
	"$PY" - "$P" "$1" <<'PYEOF'
import hashlib, sys
p, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    h = hashlib.sha256(str(i).encode()).hexdigest()
    print(f"{p}/web/packages/{h[:2]}/{h[2:4]}/{h[4:64]}/stray-file-with-a-long-name-so-that-the-report-soon-outgrows-a-pipe-buffer-{i}.tar.gz")
PYEOF
}

@test "2601 a clean store verifies clean: no problem, exit 0, the counts of the store; the config form too; no checkpoint left" {
	sync_into
	run verify -j 4
	assert_success
	[ "$(problems)" = "[]" ]
	summary=$(tail -1 <<<"$output")
	[ "$(jq -r .type <<<"$summary")" = verified ]
	[ "$(jq .projects <<<"$summary")" -eq "$(jq -s length "$ALL")" ]
	[ "$(jq .files <<<"$summary")" -eq "$(file_keys | wc -l)" ]
	[ "$(jq .walked <<<"$summary")" -eq "$(swift_keys "$S3_BUCKET" "$P/web/packages/" | wc -l)" ]
	[ ! -e "$CK" ]
	grep -q "projects, .* files linked, 0 problems" "$T/verify.log"
	[[ "$(cat "$T/verify.log")" != *"$AWS_SECRET_ACCESS_KEY"* ]]
	# bandersnatch's form: [mirror] storage-backend = s3, [s3] section.
	printf '[mirror]\ndirectory = /%s/%s\nstorage-backend = s3\n\n[s3]\nendpoint_url = %s\nregion_name = %s\n' \
		"$S3_BUCKET" "$P" "$S3_ENDPOINT" "$S3_REGION" >"$T/conf"
	run --separate-stderr mirror-verify --config "$T/conf" --tmp "$CK" --hash
	assert_success
	[ "$(jq .hash <<<"$(tail -1 <<<"$output")")" = true ]
	[ "$(problems)" = "[]" ]
}

@test "2602 a deleted object, a wrong-size object, a wrong sha256 and a stray are each named with the project to repair; exit 6; nothing removed" {
	sync_into
	mapfile -t f < <(file_keys)
	del=${f[0]} short=${f[1]} bad=${f[2]} corrupt=${f[3]}
	swift_rm "$S3_BUCKET" "$P/web/$del"
	sha=$(swift_head "$S3_BUCKET" "$P/web/$short" | sed -n 's/^x-object-meta-sha256: //p')
	printf 'short' | swift_replace "$S3_BUCKET" "$P/web/$short" "$sha"
	# The same size, another sha256 in the metadata: found by a HEAD.
	size=$(swift_cat "$S3_BUCKET" "$P/web/$bad" | wc -c)
	head -c "$size" /dev/zero | swift_replace "$S3_BUCKET" "$P/web/$bad" "$(printf '0%.0s' {1..64})"
	# The same size and the right metadata, other bytes: only --hash reads them.
	sha=$(swift_head "$S3_BUCKET" "$P/web/$corrupt" | sed -n 's/^x-object-meta-sha256: //p')
	size=$(swift_cat "$S3_BUCKET" "$P/web/$corrupt" | wc -c)
	head -c "$size" /dev/zero | swift_replace "$S3_BUCKET" "$P/web/$corrupt" "$sha"
	stray="$(dirname "${f[4]}")/leftover.whl"
	echo "$P/web/$stray" | swift_put_many "$S3_BUCKET"
	before=$(swift_keys "$S3_BUCKET" "$P/")

	run verify
	[ "$status" -eq 6 ]
	jq -e -s --arg p "$del" 'any(.[]; .kind == "missing" and .path == $p and .repair)' <<<"$output"
	jq -e -s --arg p "$short" 'any(.[]; .kind == "size" and .path == $p and (.detail | test("object has 5 bytes")))' <<<"$output"
	jq -e -s --arg p "$bad" 'any(.[]; .kind == "hash" and .path == $p and (.detail | test("metadata is 0{64}")))' <<<"$output"
	jq -e -s --arg p "$stray" 'any(.[]; .kind == "stray" and .path == $p and .damage and (.removed | not))' <<<"$output"
	[ "$(count hash)" -eq 1 ] # the corrupt bytes are not read without --hash
	[ "$(count missing)" -eq 1 ] && [ "$(count size)" -eq 1 ] && [ "$(count stray)" -eq 1 ]
	# One project record per damaged project, and the store untouched.
	owners=$(for k in "$del" "$short" "$bad"; do
		jq -r --arg f "${k##*/}" 'select(any(.files[]; .filename == $f)) | .name' "$ALL"
	done | sort -u)
	[ "$(jq -r 'select(.type == "project") | .name' <<<"$output" | sort)" = "$owners" ]
	[ "$(swift_keys "$S3_BUCKET" "$P/")" = "$before" ]

	run verify --hash
	[ "$status" -eq 6 ]
	jq -e -s --arg p "$corrupt" 'any(.[]; .kind == "hash" and .path == $p and (.detail | test("^sha256 is ")))' <<<"$output"
	[ "$(count hash)" -eq 2 ]
}

@test "2603 --gc removes exactly the strays with multi-object DELETE, never a linked object; --max-deletions caps it" {
	sync_into
	mapfile -t f < <(file_keys)
	linked=$(file_keys)
	printf '%s\n' "$P/web/$(dirname "${f[0]}")/a-stray.whl" "$P/web/packages/00/stray-1" "$P/web/packages/ff/ff/stray-2" |
		swift_put_many "$S3_BUCKET"
	# The cap first: two of three go, the third is left and is damage.
	run verify --gc --max-deletions 2
	[ "$status" -eq 6 ]
	[ "$(jq -s 'map(select(.type == "problem" and .removed)) | length' <<<"$output")" -eq 2 ]
	jq -e -s 'any(.[]; .kind == "stray" and .damage and (.detail | test("max-deletions")))' <<<"$output"
	[ "$(swift_keys "$S3_BUCKET" "$P/web/packages/" | grep -c stray)" -eq 1 ]
	run verify --gc --gc-list "$T/gone"
	assert_success
	[ "$(jq -s 'map(select(.type == "problem" and .removed)) | length' <<<"$output")" -eq 1 ]
	[ "$(wc -l <"$T/gone")" -eq 1 ]
	[ "$(file_keys)" = "$linked" ]
	run swift_keys "$S3_BUCKET" "$P/web/packages/"
	refute_output --partial stray
}

@test "2604 a verify killed with SIGKILL resumes from its local checkpoint and reports the same findings" {
	sync_into
	del=$(file_keys | head -1)
	swift_rm "$S3_BUCKET" "$P/web/$del"
	strays 400 | swift_put_many "$S3_BUCKET"
	# The report outgrows a pipe nobody reads: verify blocks mid-listing.
	mkfifo "$T/out"
	exec 4<>"$T/out"
	setsid mirror-verify -d "$S3" --tmp "$CK" -j 1 >"$T/out" 2>/dev/null 3>&- &
	BG_PID=$!
	parts_done() { ls "$CK" | grep -c '^findings\.[0-9a-f][0-9a-f]$'; }
	checkpointed() { [ -e "$CK/links.index" ] && [ "$(parts_done 2>/dev/null)" -gt 0 ]; }
	wait_until 30 "a checkpoint with a finished prefix" checkpointed
	bg_kill
	exec 4<&-
	done_parts=$(parts_done)
	[ "$done_parts" -gt 0 ] && [ "$done_parts" -lt 256 ]

	run verify -v
	[ "$status" -eq 6 ]
	grep -q "Resuming: $((257 - done_parts)) of 257 parts" "$T/verify.log"
	[ "$(tail -1 <<<"$output" | jq .resumed)" = true ]
	resumed=$(problems)
	[ ! -e "$CK" ]
	run verify --restart
	[ "$status" -eq 6 ]
	[ "$(tail -1 <<<"$output" | jq .resumed)" = false ]
	[ "$(problems)" = "$resumed" ]
	[ "$(count stray)" -eq 400 ] && [ "$(count missing)" -eq 1 ]
}

@test "2605 memory stays flat: with 1,200 more objects (1,050 in one prefix: two listing pages) peak RSS is about the same" {
	sync_into
	/usr/bin/time -f '%M' -o "$T/small.rss" mirror-verify -q -d "$S3" --tmp "$CK" >"$T/small.out" 2>&1
	n=$(swift_keys "$S3_BUCKET" "$P/" | wc -l)
	# Strays, 1,050 of them in packages/ab alone: a prefix of two listing pages.
	{
		strays 150
		for i in $(seq 1050); do echo "$P/web/packages/ab/cd/many/stray-$i.whl"; done
	} | swift_put_many "$S3_BUCKET"
	run --separate-stderr /usr/bin/time -f '%M' -o "$T/big.rss" mirror-verify -q -d "$S3" --tmp "$CK"
	[ "$status" -eq 6 ]
	[ "$(count stray)" -eq 1200 ]
	[ "$(jq -s 'map(select(.kind == "stray" and (.path | startswith("packages/ab/cd/many/")))) | length' <<<"$output")" -eq 1050 ]
	small=$(tail -1 "$T/small.rss") big=$(tail -1 "$T/big.rss")
	echo "peak RSS: $small KiB ($n objects), $big KiB (+1200)" >&3
	sanitized_build mirror-verify || [ "$big" -lt 32768 ] || fail "peak RSS $big KiB"
	[ "$big" -lt $((small * 3 / 2)) ]
}

@test "2606 the repair pipe restores a store: verify | pkg-resolve | artifact-get -d s3:// | index-write -d s3://, then verify is clean" {
	sync_into
	mapfile -t f < <(file_keys)
	swift_rm "$S3_BUCKET" "$P/web/${f[0]}"
	sha=$(swift_head "$S3_BUCKET" "$P/web/${f[1]}" | sed -n 's/^x-object-meta-sha256: //p')
	printf 'short' | swift_replace "$S3_BUCKET" "$P/web/${f[1]}" "$sha"
	run verify
	[ "$status" -eq 6 ]
	jq -c 'select(.type == "project")' <<<"$output" >"$T/damaged"
	[ -s "$T/damaged" ]
	pkg-resolve -q <"$T/damaged" | artifact-get -q -d "$S3" | index-write -q -d "$S3" >/dev/null
	run verify --hash
	assert_success
	[ "$(problems)" = "[]" ]
}

@test "2607 a store that cannot be used: wrong credentials or no bucket exit 3 naming the store, no secret logged" {
	AWS_SECRET_ACCESS_KEY=not-the-secret run --separate-stderr mirror-verify -d "$S3" --tmp "$CK"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"$S3: $S3_ENDPOINT: cannot list bucket $S3_BUCKET: HTTP 403"* ]]
	[[ "$stderr" != *"not-the-secret"* ]]
	run --separate-stderr mirror-verify -d "s3://no-such-bucket/x" --tmp "$CK"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"cannot list bucket no-such-bucket"* ]]
	run mirror-verify -d "s3://A/x"
	[ "$status" -eq 2 ]
}
