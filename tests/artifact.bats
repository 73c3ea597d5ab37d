#!/usr/bin/env bats
# artifact-get: downloads release files into the mirror, verifies them, and
# passes on the records of projects whose files are all in place.
# Runs the built binary over real HTTP against the PyPI emulator.

load lib/common

setup_file() {
	emu_file_start
	export PYPI_MIRROR_UPSTREAM="$EMU_URL"
	export PYPI_MIRROR_ALLOW_NON_HTTPS=1
	# Fault tests must not wait long for retries.
	export PYPI_MIRROR_RETRIES=1 PYPI_MIRROR_BACKOFF=0.1 PYPI_MIRROR_TIMEOUT=5
	all_projects | resolve >"$BATS_FILE_TMPDIR/all.ndjson"
}

setup() {
	admin clear-faults
	admin reset-stats
	T="$BATS_TEST_TMPDIR"
	M="$T/mirror"
	ALL="$BATS_FILE_TMPDIR/all.ndjson"
}

# ---------------------------------------------------------------- helpers

all_projects() {
	simple_root | jq -r '.projects[].name'
}

# Names on stdin -> resolved project records on stdout. pkg-resolve when it
# is built; otherwise the same record shape made from the JSON API with jq.
resolve() {
	if command -v pkg-resolve >/dev/null; then
		sed 's/.*/{"name":"&"}/' | pkg-resolve -q
		return
	fi
	local n
	while read -r n; do
		curl -fsS "$EMU_URL/pypi/$n/json" | jq -c '
			def norm: ascii_downcase | gsub("[-_.]+"; "-");
			{type: "project", name: (.info.name | norm), display_name: .info.name,
			 serial: .last_serial, last_serial: .last_serial, status: "active",
			 files: [.releases | to_entries[] | .key as $v | .value[] |
			   {filename, version: $v, url,
			    path: ("packages/" + (.url | split("/packages/") | .[1:] | join("/packages/"))),
			    sha256: .digests.sha256, size, upload_time: .upload_time_iso_8601,
			    requires_python, yanked, yanked_reason,
			    core_metadata: (if .["core-metadata"] then .["core-metadata"].sha256 else null end),
			    packagetype}]}'
	done
}

# Records as artifact-get read them: its counts of what it fetched for a
# project (files_fetched, bytes_fetched, added last) and the directory they
# landed in (stored_at, when there is one) and journal_new taken off; with an argument, only
# when the counts are exactly those.
uncounted() { sed -E "s/,\"files_fetched\":${1:-[0-9]+},\"bytes_fetched\":${2:-[0-9]+}(,\"stored_at\":\"[0-9]+:[0-9]+\")?(,\"journal_new\":true)?\\}\$/}/"; }

# The record of one project (normalized name) from the resolved set.
record_of() {
	jq -c --arg n "$1" 'select(.name == $n)' "$ALL"
}

# Tab-separated: path sha256 mtime core_metadata(or -) filename, for each file.
file_table() {
	jq -r 'select(.type == "project") | .files[] |
		[.path, .sha256, (.upload_time | sub("\\.[0-9]+"; "") | fromdateiso8601 | tostring),
		 (.core_metadata // "-"), .filename] | @tsv' "$@"
}

# Checks that every file (and companion) of the records in $1 is in mirror
# $2 with the right sha256 and mtime (companions too); prints what is wrong.
# A handful of processes for the whole set: the machine may be busy.
verify_mirror() {
	local rec="$BATS_TEST_TMPDIR/verify.ndjson"
	cat "$1" >"$rec"
	(cd "$2/web" && jq -r 'select(.type == "project") | .files[] |
		"\(.sha256)  \(.path)", (select(.core_metadata) | "\(.core_metadata)  \(.path).metadata")' "$rec" |
		sha256sum --quiet -c -) || return 1
	diff <(jq -r 'select(.type == "project") | .files[] |
			(.upload_time | sub("\\.[0-9]+"; "") | fromdateiso8601 | tostring) as $t |
			"\($t) \(.path)", (select(.core_metadata) | "\($t) \(.path).metadata")' "$rec" | sort) \
		<(cd "$2/web" && jq -r 'select(.type == "project") | .files[] | .path, (select(.core_metadata) | .path + ".metadata")' "$rec" |
			xargs -r stat -c '%Y %n' | sort)
}

# How many GETs of /packages/... the emulator answered since the last reset
# (optionally only those under one path prefix).
package_gets() {
	emu_stats | jq --arg p "/${1:-packages/}" \
		'[.requests | to_entries[] | select(.key | startswith("GET " + $p)) | .value] | add // 0'
}

# ---------------------------------------------------------------- tests

@test "0401 artifact-get: --help lists every option of the man page, --version" {
	run artifact-get --help
	assert_success
	assert_output --partial "usage: artifact-get -d DIR"
	man_opts=$(grep -oE '^\.It Fl (-[a-z-]+|[a-zA-Z] , -[a-z-]+)' "$BATS_TEST_DIRNAME/../man/artifact-get.1" |
		grep -oE -- '-[a-z-]+$' | sed 's/^/-/' | sort -u)
	[[ -n "$man_opts" ]]
	for o in $man_opts; do
		[[ "$output" == *"$o"* ]] || fail "--help lacks $o"
	done
	help_opts=$(grep -oE -- '--[a-z][a-z-]+' <<<"$output" | sort -u)
	for o in $help_opts; do
		grep -qE -- "^\.It Fl.*-${o#--}( |\$)" "$BATS_TEST_DIRNAME/../man/artifact-get.1" || fail "man page lacks $o"
	done
	run artifact-get --version
	assert_success
	assert_output --regexp '^artifact-get \(pypi-mirror\) [0-9]'
}

@test "0402 artifact-get: usage errors exit 2, an uncreatable DIR exits 3" {
	run artifact-get </dev/null
	assert_equal "$status" 2
	assert_output --partial "--directory"
	run artifact-get -d "$M" --compare-method mtime </dev/null
	assert_equal "$status" 2
	run artifact-get -d "$M" -j 0 </dev/null
	assert_equal "$status" 2
	run artifact-get -d "$M" --download-mirror-no-fallback </dev/null
	assert_equal "$status" 2
	run env -u PYPI_MIRROR_ALLOW_NON_HTTPS artifact-get -d "$M" -u https://pypi.org --download-mirror http://127.0.0.1:1/ </dev/null
	assert_equal "$status" 2
	assert_output --partial "not https"
	touch "$T/plainfile"
	run artifact-get -d "$T/plainfile/m" </dev/null
	assert_equal "$status" 3
	assert_output --partial "cannot create"
}

@test "0403 artifact-get: full download puts every file and .metadata in place, with mtime = upload time" {
	run --separate-stderr artifact-get -d "$M" <"$ALL"
	assert_success
	# Every project record passed on unchanged, but for the counts; they
	# add up to what was downloaded.
	diff <(sort "$ALL") <(uncounted <<<"$output" | sort)
	[ "$(jq -s 'map(.files_fetched) | add' <<<"$output")" -eq "$(find "$M/web/packages" -type f | wc -l)" ]
	[ "$(jq -s 'map(.bytes_fetched) | add' <<<"$output")" -eq "$(find "$M/web/packages" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')" ]
	run verify_mirror "$ALL" "$M"
	assert_success
	# Companions exist for the wheels (the emulator gives them core_metadata).
	[[ $(find "$M/web/packages" -name '*.metadata' | wc -l) -gt 0 ]]
	[[ $(find "$M/web/packages" -name '*.metadata' | wc -l) -eq $(jq -r '.files[] | select(.core_metadata) | .path' "$ALL" | wc -l) ]]
	# Nothing else: no temporaries left, nothing outside packages/.
	[[ -z "$(find "$M" -name '.*' ! -path "$M/.unlisted")" ]] # no temporary; the journal is no hidden file of web/
	[[ "$(ls "$M/web")" == "packages" ]]
	[[ "$stderr" == *"INFO: Downloading: $EMU_URL/packages/"* ]]
	n=$(file_table "$ALL" | wc -l)
	m=$(jq -r '.files[] | select(.core_metadata) | .path' "$ALL" | wc -l)
	[[ "$stderr" == *"artifact-get: $((n + m)) files downloaded"* ]]
	[[ "$stderr" == *", 0 current, 0 failed in 0 projects"* ]]
}

@test "0404 artifact-get: a second run downloads nothing, in hash and in stat mode" {
	artifact-get -q -d "$M" <"$ALL" >/dev/null
	admin reset-stats
	run --separate-stderr artifact-get -d "$M" <"$ALL"
	assert_success
	diff <(sort "$ALL") <(uncounted 0 0 <<<"$output" | sort)
	[[ "$(package_gets)" == 0 ]]
	[[ "$stderr" == *"artifact-get: 0 files downloaded (0 bytes)"* ]]
	run --separate-stderr artifact-get -d "$M" --compare-method stat <"$ALL"
	assert_success
	diff <(sort "$ALL") <(uncounted 0 0 <<<"$output" | sort)
	[[ "$(package_gets)" == 0 ]]
}

@test "0405 artifact-get: stat mode trusts size+mtime without reading; hash mode re-downloads a corrupted file" {
	artifact-get -q -d "$M" <"$ALL" >/dev/null
	IFS=$'\t' read -r path sha t cm fn < <(file_table "$ALL" | head -1)
	f="$M/web/$path"
	size=$(stat -c %s "$f")
	# Same size, one byte changed, upload-time mtime kept.
	b=$(dd if="$f" bs=1 skip=$((size / 2)) count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	printf "\\$(printf %03o $(((b + 1) % 256)))" | dd of="$f" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
	touch -d "@$t" "$f"
	[[ "$(sha256sum <"$f" | cut -c1-64)" != "$sha" ]]
	admin reset-stats

	# stat: the file is taken as current, so its body was never read.
	run artifact-get -q -d "$M" --compare-method stat <"$ALL"
	assert_success
	[[ "$(package_gets)" == 0 ]]
	[[ "$(sha256sum <"$f" | cut -c1-64)" != "$sha" ]]

	# hash (the default): the damage is found and the file fetched again.
	run --separate-stderr artifact-get -d "$M" <"$ALL"
	assert_success
	[[ "$(package_gets)" == 1 ]]
	[[ "$(package_gets "$path")" == 1 ]]
	[[ "$stderr" == *"Downloading: $EMU_URL/$path"* ]]
	run verify_mirror "$ALL" "$M"
	assert_success
}

@test "0406 artifact-get: stat mode hashes a file whose mtime is off and only resets the time" {
	artifact-get -q -d "$M" <"$ALL" >/dev/null
	IFS=$'\t' read -r path sha t cm fn < <(file_table "$ALL" | head -1)
	touch "$M/web/$path"
	[[ "$(stat -c %Y "$M/web/$path")" != "$t" ]]
	admin reset-stats
	run artifact-get -q -d "$M" --compare-method stat <"$ALL"
	assert_success
	[[ "$(package_gets)" == 0 ]]
	[[ "$(stat -c %Y "$M/web/$path")" == "$t" ]]
	# A file of the wrong size is downloaded over, whatever the mode.
	truncate -s 10 "$M/web/$path"
	touch -d "@$t" "$M/web/$path"
	run artifact-get -q -d "$M" --compare-method stat <"$ALL"
	assert_success
	[[ "$(package_gets "$path")" == 1 ]]
	run verify_mirror "$ALL" "$M"
	assert_success
}

@test "0407 artifact-get: a file corrupt upstream is never published; its project errors, the others land" {
	# An sdist: it has no companion, so the fault hits exactly one URL.
	rec=$(jq -c 'select(any(.files[]; .packagetype == "sdist"))' "$ALL" | head -1)
	name=$(jq -r .name <<<"$rec")
	IFS=$'\t' read -r path fn < <(jq -r '[.files[] | select(.packagetype == "sdist")][0] | [.path, .filename] | @tsv' <<<"$rec")
	admin fault path="/$path" kind=corrupt

	run --separate-stderr artifact-get -d "$M" <"$ALL"
	assert_failure 1
	# One error record for that project, naming the file, the URL and the reason.
	err=$(jq -c 'select(.type == "error")' <<<"$output")
	[[ $(wc -l <<<"$err") == 1 ]]
	assert_equal "$(jq -r .name <<<"$err")" "$name"
	assert_equal "$(jq -r .tool <<<"$err")" "artifact-get"
	assert_equal "$(jq -r .file <<<"$err")" "$fn"
	assert_equal "$(jq -r .url <<<"$err")" "$EMU_URL/$path"
	[[ "$(jq -r .reason <<<"$err")" == "sha256 mismatch (got "*", want "*")" ]]
	[[ "$stderr" == *"ERROR: Project $name: file $fn"*"sha256 mismatch"* ]]
	# Fetched three times (two more after the first mismatch), never published.
	[[ "$(package_gets "$path")" == 3 ]]
	[[ ! -e "$M/web/$path" ]]
	[[ -z "$(find "$M" -name '.*' ! -path "$M/.unlisted")" ]] # no temporary; the journal is no hidden file of web/
	# Every other project's record passed on, and its files are in place.
	jq -c --arg n "$name" 'select(.name != $n)' "$ALL" >"$T/others.ndjson"
	diff <(sort "$T/others.ndjson") <(jq -c 'select(.type == "project")' <<<"$output" | uncounted | sort)
	run verify_mirror "$T/others.ndjson" "$M"
	assert_success
	[[ "$stderr" == *", 1 failed in 1 projects"* ]]
}

@test "0408 artifact-get: truncated, reset and 503 transfers are retried and land intact" {
	rec=$(jq -c 'select(.name == "demo-pkg")' "$ALL")
	mapfile -t paths < <(jq -r '.files[].path' <<<"$rec")
	admin fault path="/${paths[0]}" kind=truncate count=1
	admin fault path="/${paths[1]}" kind=reset count=1
	admin fault path="/${paths[2]}" kind=503 count=1
	run --separate-stderr artifact-get -d "$M" <<<"$rec"
	assert_success
	assert_equal "$(uncounted <<<"$output")" "$rec"
	[ "$output" != "$rec" ] # it carries the counts
	# One more GET each than the file (and its companion, which shares the
	# fault's path prefix) needs: the one retry.
	for p in "${paths[@]:0:3}"; do
		urls=$(jq --arg p "$p" '[.files[] | select(.path == $p) | 1, (select(.core_metadata) | 1)] | length' <<<"$rec")
		[[ "$(package_gets "$p")" == $((urls + 1)) ]] || fail "$p: $(package_gets "$p") GETs"
	done
	run verify_mirror <(echo "$rec") "$M"
	assert_success
	[[ -z "$(find "$M" -name '.*' ! -path "$M/.unlisted")" ]] # no temporary; the journal is no hidden file of web/
}

@test "0409 artifact-get: a file gone upstream (HTTP 404) becomes an error record" {
	admin new-project name=vanishing-pkg
	rec=$(echo vanishing-pkg | resolve)
	fn=$(jq -r '.files[] | select(.packagetype == "sdist") | .filename' <<<"$rec")
	url=$(jq -r '.files[] | select(.packagetype == "sdist") | .url' <<<"$rec")
	admin remove-file name=vanishing-pkg filename="$fn"
	run --separate-stderr artifact-get -d "$M" <<<"$rec"
	assert_failure 1
	assert_equal "$(jq -r .type <<<"$output")" "error"
	assert_equal "$(jq -r .name <<<"$output")" "vanishing-pkg"
	assert_equal "$(jq -r .file <<<"$output")" "$fn"
	assert_equal "$(jq -r .url <<<"$output")" "$url"
	assert_equal "$(jq -r .reason <<<"$output")" "HTTP 404"
	assert_equal "$(jq -r .serial <<<"$output")" "$(jq -r .serial <<<"$rec")"
	# The project's other file still landed (it is tried, for the next run).
	whl=$(jq -r '.files[] | select(.packagetype == "bdist_wheel") | .path' <<<"$rec")
	[[ -f "$M/web/$whl" ]]
}

@test "0410 artifact-get: hostile records are refused and nothing is written outside DIR" {
	mkdir -p "$T/jail"
	M="$T/jail/m"
	good=$(jq -c 'select(.name == "demo-pkg") | .files = [.files[0]]' "$ALL")
	p=$(jq -r '.files[0].path' <<<"$good")
	fn=$(jq -r '.files[0].filename' <<<"$good")
	{
		jq -c '.files[0].path = "packages/../../../../escape/x.tar.gz" | .files[0].filename = "x.tar.gz"' <<<"$good"
		jq -c --arg t "$T/abs" '.files[0].path = ($t + "/x.tar.gz") | .files[0].filename = "x.tar.gz"' <<<"$good"
		jq -c --arg fn "../$fn" '.files[0].filename = $fn' <<<"$good"
		jq -c --arg p "$p" '.files[0].url = "http://evil.example.invalid/" + $p' <<<"$good"
		jq -c --arg p "$p" '.files[0].url = "file:///" + $p' <<<"$good"
		jq -c '.files[0].url = (.files[0].url | sub("/packages/"; "/packages/../../"))' <<<"$good"
		jq -c --arg u "$(jq -r '.files[1].url' "$ALL" | head -1)" '.files[0].url = $u' <<<"$good"
	} >"$T/hostile.ndjson"
	run --separate-stderr artifact-get -d "$M" <"$T/hostile.ndjson"
	assert_failure 1
	# Each line is refused with an error record naming the project.
	[[ $(jq -c 'select(.type == "error" and .name == "demo-pkg")' <<<"$output" | wc -l) == 7 ]]
	[[ "$stderr" == *"line 1:"*"path"* ]]
	[[ "$stderr" == *"line 2:"* ]]
	[[ "$stderr" == *"line 3:"*"file name"* ]]
	[[ "$stderr" == *"evil.example.invalid"* ]]
	[[ "$stderr" == *"scheme file"* ]]
	[[ $(grep -c "Refusing project demo-pkg" <<<"$stderr") == 4 ]]
	# Nothing fetched, nothing written anywhere but (at most) the empty web root.
	[[ "$(package_gets)" == 0 ]]
	[[ "$(cd "$T/jail" && find . -mindepth 1 | sort | tr '\n' ' ')" == "./m ./m/web " ]]
	[[ ! -e "$T/abs" && ! -e "$T/escape" ]]
}

@test "0411 artifact-get: a symlink planted under DIR/web is refused, not followed" {
	rec=$(jq -c 'select(.name == "demo-pkg")' "$ALL")
	p=$(jq -r '.files[0].path' <<<"$rec")
	xx=$(cut -d/ -f2 <<<"$p")
	mkdir -p "$M/web/packages" "$T/outside"
	ln -s "$T/outside" "$M/web/packages/$xx"
	run --separate-stderr artifact-get -d "$M" <<<"$rec"
	assert_failure 1
	assert_equal "$(jq -r .type <<<"$output")" "error"
	[[ "$(jq -r .reason <<<"$output")" == *"packages/$xx is a symlink"* ]]
	[[ -z "$(find "$T/outside" -mindepth 1)" ]]
	[[ "$(package_gets "packages/$xx/")" == 0 ]]
	# A symlink in place of a file is replaced by the real file, never written through.
	rm "$M/web/packages/$xx"
	mkdir -p "$(dirname "$M/web/$p")"
	ln -s "$T/outside/victim" "$M/web/$p"
	run artifact-get -q -d "$M" <<<"$rec"
	assert_success
	[[ ! -L "$M/web/$p" && -f "$M/web/$p" ]]
	[[ ! -e "$T/outside/victim" ]]
}

@test "0412 artifact-get: --download-mirror serves what it has, the upstream the rest" {
	# Another mirror's web root holding only some of the files.
	artifact-get -q -d "$T/other" <"$ALL" >/dev/null
	rec=$(jq -c 'select(.name == "demo-pkg")' "$ALL")
	mapfile -t paths < <(jq -r '.files[].path' <<<"$rec")
	rm -f "$T/other/web/${paths[0]}" "$T/other/web/${paths[0]}.metadata"
	serve_dir "$T/other/web" "$T/httpd.log"
	admin reset-stats

	run --separate-stderr artifact-get -d "$M" --download-mirror "$SERVE_URL/" <<<"$rec"
	assert_success
	assert_equal "$(uncounted <<<"$output")" "$rec"
	[ "$output" != "$rec" ] # it carries the counts
	run verify_mirror <(echo "$rec") "$M"
	assert_success
	# Only the missing file came from upstream (companion included); the rest from the mirror.
	[[ "$(package_gets "${paths[0]}")" -ge 1 ]]
	for p in "${paths[@]:1}"; do
		[[ "$(package_gets "$p")" == 0 ]] || fail "$p fetched upstream"
		grep -q "GET /$p " "$T/httpd.log" || fail "$p not fetched from the mirror"
	done
	[[ "$stderr" == *"Downloading: $SERVE_URL/${paths[1]}"* ]]

	# Without fallback the missing file fails.
	admin reset-stats
	run --separate-stderr artifact-get -d "$T/m3" --download-mirror "$SERVE_URL" --download-mirror-no-fallback <<<"$rec"
	assert_failure 1
	assert_equal "$(jq -r .reason <<<"$output")" "HTTP 404"
	[[ "$(jq -r .url <<<"$output")" == "$SERVE_URL/${paths[0]}"* ]]
	[[ "$(package_gets)" == 0 ]]
}

@test "0413 artifact-get: other records pass through, unresolved ones are errors, target comes last" {
	rec=$(jq -c 'select(.name == "demo-pkg")' "$ALL")
	{
		echo '{"type":"target","serial":999,"since":1,"projects":3}'
		echo '{"type":"removal","name":"old-pkg","serial":5,"reason":"404 from upstream"}'
		echo '{"type":"project","name":"not-resolved","serial":7}'
		echo 'this is not json'
		echo '{"type":"error","name":"other","serial":8,"tool":"pkg-resolve","reason":"HTTP 500"}'
		echo "$rec"
		echo '{"type":"synced","name":"done-pkg","serial":9,"files_listed":1,"files_fetched":0,"bytes_fetched":0,"deleted":0,"removed":false}'
		echo '{"type":"frobnicate","name":"x"}'
	} >"$T/in.ndjson"
	run --separate-stderr artifact-get -d "$M" <"$T/in.ndjson"
	assert_failure 1
	mapfile -t lines <<<"$output"
	assert_equal "${#lines[@]}" 7
	assert_equal "${lines[0]}" '{"type":"removal","name":"old-pkg","serial":5,"reason":"404 from upstream"}'
	assert_equal "$(jq -r '[.type,.name,.reason]|join(" ")' <<<"${lines[1]}")" "error not-resolved line 3: record is not resolved"
	assert_equal "${lines[2]}" '{"type":"error","name":"other","serial":8,"tool":"pkg-resolve","reason":"HTTP 500"}'
	# The record as read, plus what was downloaded for it (every file and
	# companion: the mirror was empty).
	local want_n want_b
	want_n=$(jq '[.files[] | 1, (select(.core_metadata) | 1)] | length' <<<"$rec")
	want_b=$(jq '[.files[].size] | add' <<<"$rec")
	[[ "$output" == *"${rec%\}},\"files_fetched\":$want_n,\"bytes_fetched\":"* ]] || fail "counts missing: $output"
	got_b=$(jq 'select(.name == "demo-pkg" and .type == "project") | .bytes_fetched' <<<"$output")
	[ "$got_b" -ge "$want_b" ] && [ "$want_b" -gt 0 ] # the .metadata companions count too
	# The project lands when its downloads finish, so only its presence is fixed.
	[[ "$output" == *'{"type":"synced","name":"done-pkg","serial":9,"files_listed":1,"files_fetched":0,"bytes_fetched":0,"deleted":0,"removed":false}'* ]]
	[[ "$(jq -r 'select(.type == "error" and .name == "x") | .reason' <<<"$output")" == "line 8: unknown record type"* ]]
	assert_equal "${lines[6]}" '{"type":"target","serial":999,"since":1,"projects":3}'
	[[ "$stderr" == *"line 3: project not-resolved: record is not resolved"* ]]
	[[ "$stderr" == *"line 4: "* ]]
	[[ "$stderr" == *"line 8: unknown record type"* ]]
	# Run again: everything is current, nothing was fetched for it.
	run --separate-stderr artifact-get -d "$M" <<<"$rec"
	assert_success
	# stored_at: the web/ directory every file of it is in (index-write
	# writing there trusts it).
	assert_output "${rec%\}},\"files_fetched\":0,\"bytes_fetched\":0,\"stored_at\":\"$(stat -c '%d:%i' "$M/web")\"}"
	# Without the .metadata companions, artifact-get does not vouch for them.
	run --separate-stderr artifact-get -d "$M" --no-metadata <<<"$rec"
	assert_success
	assert_output "${rec%\}},\"files_fetched\":0,\"bytes_fetched\":0}"
}

@test "0414 artifact-get: --dry-run writes nothing and names what it would fetch" {
	run --separate-stderr artifact-get -d "$M" --dry-run <"$ALL"
	assert_success
	[[ -z "$output" ]]
	[[ ! -e "$M" ]]
	[[ "$(package_gets)" == 0 ]]
	n=$(grep -c "INFO: Would download: $EMU_URL/packages/" <<<"$stderr")
	[[ "$n" -eq $(( $(jq '.files[]' -c "$ALL" | wc -l) + $(jq -c '.files[] | select(.core_metadata)' "$ALL" | wc -l) )) ]]
	[[ "$stderr" == *"files would be downloaded"* ]]
	# Once the files are there, the dry run passes every record on and would fetch nothing.
	artifact-get -q -d "$M" <"$ALL" >/dev/null
	run --separate-stderr artifact-get -d "$M" -n <"$ALL"
	assert_success
	diff <(sort "$ALL") <(uncounted 0 0 <<<"$output" | sort)
	[[ "$stderr" != *"Would download"* ]]
}

@test "0415 artifact-get: --no-metadata skips the companions; -j 1 still fetches everything" {
	run artifact-get -q -d "$M" --no-metadata -j 1 <"$ALL"
	assert_success
	[[ -z "$(find "$M" -name '*.metadata')" ]]
	[[ $(find "$M/web/packages" -type f | wc -l) == $(jq -c '.files[]' "$ALL" | wc -l) ]]
	[[ "$(emu_stats | jq '[.requests | keys[] | select(endswith(".metadata"))] | length')" == 0 ]]
}

@test "0416 artifact-get: http:// file URLs are refused unless allowed" {
	rec=$(jq -c 'select(.name == "demo-pkg")' "$ALL")
	# An https upstream on the emulator's host, so only the file URLs' scheme is wrong.
	run --separate-stderr env -u PYPI_MIRROR_ALLOW_NON_HTTPS artifact-get -d "$M" -u "https://127.0.0.1:$EMU_PORT" <<<"$rec"
	assert_failure 1
	assert_equal "$(jq -r .type <<<"$output")" "error"
	[[ "$(jq -r .reason <<<"$output")" == *"is not https"* ]]
	[[ "$(package_gets)" == 0 ]]
	run env -u PYPI_MIRROR_ALLOW_NON_HTTPS artifact-get -d "$M" <<<"$rec"
	assert_equal "$status" 2
	assert_output --partial "--allow-non-https"
	run env -u PYPI_MIRROR_ALLOW_NON_HTTPS artifact-get -q -d "$M" --allow-non-https <<<"$rec"
	assert_success
	assert_equal "$(uncounted <<<"$output")" "$rec"
	[ "$output" != "$rec" ] # it carries the counts
}

@test "0417 artifact-get: temporaries left by a crashed run are removed (with --fsync)" {
	rec=$(jq -c 'select(.name == "demo-pkg")' "$ALL")
	p=$(jq -r '.files[0].path' <<<"$rec")
	d="$M/web/$(dirname "$p")"
	mkdir -p "$d"
	# A pid that is not running (above the default pid_max of most systems).
	stale="$d/.$(basename "$p").4194303.deadbeef.tmp"
	echo partial >"$stale"
	run artifact-get -q -d "$M" --fsync <<<"$rec"
	assert_success
	[[ ! -e "$stale" ]]
	[[ -z "$(find "$M" -name '.*' ! -path "$M/.unlisted")" ]] # no temporary; the journal is no hidden file of web/
	run verify_mirror <(echo "$rec") "$M"
	assert_success
}

@test "0418 artifact-get: --progress reports files and bytes on stderr" {
	run --separate-stderr artifact-get -q -d "$M" --progress <"$ALL"
	assert_success
	n=$(( $(jq -c '.files[]' "$ALL" | wc -l) + $(jq -c '.files[] | select(.core_metadata)' "$ALL" | wc -l) ))
	[[ "$stderr" == *"artifact-get: $n/$n files, "*" MiB, "*" MiB/s"* ]]
	run --separate-stderr artifact-get -q -d "$M" --no-progress <"$ALL"
	assert_success
	[[ -z "$stderr" ]]
}

@test "0419 artifact-get: a project's paths go to DIR/.unlisted/NAME before its downloads; index-write takes them up" {
	rec=$(jq -c 'select(.name == "demo-pkg")' "$ALL")
	mapfile -t paths < <(jq -r '.files[].path' <<<"$rec")
	# the sdist fails: the project errors, and its other files stay tracked
	sdist=$(jq -r '.files[] | select(.filename | endswith(".tar.gz")) | .path' <<<"$rec" | head -n 1)
	[[ -n "$sdist" ]]
	admin fault path="/$sdist" kind=500
	run --separate-stderr artifact-get -d "$M" <<<"$rec"
	assert_failure 1
	assert_equal "$(jq -r .type <<<"$output")" error
	[[ -f "$M/.unlisted/demo-pkg" ]] || fail "no journal of the stored files"
	diff <(printf '%s\n' "${paths[@]}" | sort) <(sort "$M/.unlisted/demo-pkg")
	# A run of a project whose files are all current writes no journal.
	admin clear-faults
	run artifact-get -q -d "$M" <<<"$rec"
	assert_success
	rm "$M/.unlisted/demo-pkg"
	run artifact-get -q -d "$M" <<<"$rec"
	assert_success
	[[ ! -e "$M/.unlisted/demo-pkg" ]] || fail "a project with nothing to download was journaled"
	# the page takes the journal up: a path no record lists (and that the
	# project owns) goes, then the journal
	printf '%s\n' "${paths[@]}" >"$M/.unlisted/demo-pkg"
	extra="packages/ee/ee/$(printf 'e%.0s' {1..60})/demo_pkg-0.0.1.tar.gz"
	mkdir -p "$M/web/${extra%/*}" && echo old >"$M/web/$extra"
	echo "$extra" >>"$M/.unlisted/demo-pkg"
	run --separate-stderr index-write -d "$M" <<<"$rec"
	assert_success
	[[ ! -e "$M/web/$extra" ]] || fail "an unlisted file the project no longer lists was kept"
	[[ ! -e "$M/.unlisted/demo-pkg" ]]
	for p in "${paths[@]}"; do [[ -f "$M/web/$p" ]] || fail "$p deleted"; done
	[[ "$stderr" == *"Deleting file: $extra (project demo-pkg)"* ]] || fail "$stderr"
	# A journal that cannot be written: nothing is fetched, the project errors, by name.
	rm -rf "$M/web/packages" "$M/.unlisted"
	echo block >"$M/.unlisted"
	run --separate-stderr artifact-get -d "$M" <<<"$rec"
	assert_failure 1
	[[ "$stderr" == *"Project demo-pkg: file "*"cannot record the files it downloads: "* ]] || fail "$stderr"
	[[ -z "$(find "$M/web/packages" -type f 2>/dev/null)" ]] || fail "downloaded without a journal"
}

@test "0420 artifact-get: one sweep of a directory that was there removes every dead writer's temporary, keeps a live one's" {
	rec=$(jq -c 'select(.name == "demo-pkg")' "$ALL")
	p=$(jq -r '.files[0].path' <<<"$rec")
	d="$M/web/$(dirname "$p")"
	mkdir -p "$d"
	f=$(basename "$p")
	# Dead writers (pids above the default pid_max): the file's, its
	# .metadata's, and a file's no record lists any more.
	for n in ".$f.4194303.deadbeef.tmp" ".$f.metadata.4194302.00000000.tmp" ".gone-1.0.tar.gz.4194301.0badf00d.tmp"; do
		echo partial >"$d/$n"
	done
	sleep 1000 &
	live=$!
	echo partial >"$d/.$f.$live.12345678.tmp"
	echo mine >"$d/.not-a-temporary"
	run artifact-get -q -d "$M" <<<"$rec"
	kill "$live"
	assert_success
	assert_equal "$(cd "$d" && ls -A | sort | tr '\n' ' ')" "$(printf '%s\n' ".$f.$live.12345678.tmp" .not-a-temporary "$f" "$f.metadata" | sort | tr '\n' ' ')"
	run verify_mirror <(echo "$rec") "$M"
	assert_success
}

@test "0421 artifact-get: two projects listing one path in a run: the file lands once, verified, and both pass" {
	rec=$(jq -c 'select(.name == "demo-pkg")' "$ALL")
	twin=$(jq -c '.name = "demo-twin" | .display_name = "demo-twin"' <<<"$rec")
	run --separate-stderr artifact-get -d "$M" -j 4 < <(printf '%s\n%s\n' "$rec" "$twin")
	assert_success
	assert_equal "$(jq -r .name <<<"$output" | sort | tr '\n' ' ')" "demo-pkg demo-twin "
	run verify_mirror <(echo "$rec") "$M"
	assert_success
	[[ -z "$(find "$M/web" -name '.*')" ]] # no temporary left
}

@test "0422 artifact-get: a record goes out before it waits for more input, and downloads go on while the input has none" {
	# Records wait in stdout's buffer only until the tool would wait: the
	# next tool gets this one now, not when the input ends.
	rec=$(jq -c 'select(.name == "demo-pkg")' "$ALL")
	echo "$rec" >"$T/rec"
	# Its files still to fetch when the input runs dry: the transfers go on
	# (no read holds them up), and the record follows them out.
	first_record_while_open "$T/rec" artifact-get -d "$M" -j 2
	assert_equal "$(jq -r '[.type, .name, (.files_fetched > 0)] | join(" ")' <<<"$line")" "project demo-pkg true"
	run verify_mirror <(echo "$rec") "$M"
	assert_success
	# Its files current: nothing under way, the record goes out at once.
	first_record_while_open "$T/rec" artifact-get -d "$M" -j 2
	assert_equal "$(jq -r '[.type, .name, .files_fetched] | join(" ")' <<<"$line")" "project demo-pkg 0"
}

@test "0423 artifact-get: journal_new says the project's unlisted journal is this pass's alone; index-write then removes it unread, and only then" {
	rec=$(jq -c 'select(.name == "demo-pkg")' "$ALL")
	extra="packages/ee/ee/$(printf 'e%.0s' {1..60})/demo_pkg-0.0.1.tar.gz"
	# A new mirror: the journal is made by this run, and the record says so.
	run --separate-stderr artifact-get -d "$M" <<<"$rec"
	assert_success
	assert_equal "$(jq -c '.journal_new' <<<"$output")" true
	fresh=$output
	[[ -f "$M/.unlisted/demo-pkg" ]]
	# index-write at that stored_at: the page, and the journal is gone.
	run index-write -d "$M" <<<"$fresh"
	assert_success
	[[ ! -e "$M/.unlisted/demo-pkg" ]] || fail "journal left"
	# A journal there before (a failed run's, listing a file no page does):
	# artifact-get claims nothing, and index-write reads it and deletes the file.
	rm -rf "$M/web/packages"
	mkdir -p "$M/web/${extra%/*}" && echo old >"$M/web/$extra"
	echo "$extra" >"$M/.unlisted/demo-pkg"
	run --separate-stderr artifact-get -d "$M" <<<"$rec"
	assert_success
	assert_equal "$(jq -c '.journal_new' <<<"$output")" null
	grep -qxF "$extra" "$M/.unlisted/demo-pkg"
	run index-write -d "$M" <<<"$output"
	assert_success
	[[ ! -e "$M/web/$extra" ]] || fail "the journal's extra file was kept"
	# A claim from anywhere else (another stored_at, or one read back into
	# artifact-get) is not taken: the journal is read as usual.
	mkdir -p "$M/web/${extra%/*}" && echo old >"$M/web/$extra"
	echo "$extra" >"$M/.unlisted/demo-pkg"
	run index-write -d "$M" < <(jq -c '.stored_at = "0:0"' <<<"$fresh")
	assert_success
	[[ ! -e "$M/web/$extra" ]] || fail "a forged journal_new was taken"
	run --separate-stderr artifact-get -d "$M" <<<"$fresh"
	assert_success
	assert_equal "$(jq -c '.journal_new' <<<"$output")" null
}
