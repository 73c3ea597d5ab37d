#!/usr/bin/env bats
# 18NN: mirror-verify. A mirror synced from the emulator by the wrapper is
# damaged in every way the tool must notice; verify must name each damage,
# the repair pipeline (verify | pkg-resolve | artifact-get | index-write)
# must restore a tree identical to the clean sync, --gc must remove exactly
# the strays, and a verify killed with SIGKILL must resume from its checkpoint.

load lib/common

setup_file() {
	emu_file_start --projects 6 --seed 3
	# One clean sync (json = true, so the JSON API copies are there too);
	# every test damages a copy of it.
	export CLEAN="$BATS_FILE_TMPDIR/clean"
	CONF="$BATS_FILE_TMPDIR/conf"
	write_config "$CONF" "$CLEAN" "$BATS_FILE_TMPDIR/log" "json = true"
	tool_env
	pm mirror 2>"$BATS_FILE_TMPDIR/sync.log"
	[ -s "$CLEAN/web/simple/index.v1_json" ]
}

setup() {
	mirror_setup
	cp -a "$CLEAN" "$M"
	rm -rf "$M/pypi-mirror.last-run" # the wrapper's, not part of the tree
	W="$M/web"
}

# Package files (not .metadata), sorted; nth N prints the Nth (0-based).
files() { (cd "$W" && find packages -type f ! -name '*.metadata' | sort); }
nth() { files | sed -n "$(($1 + 1))p"; }
# The project whose page links path $1.
owner() { grep -l "${1##*/}" "$W"/simple/*/index.v1_json | head -1 | xargs dirname | xargs basename; }
# Problem records of kind $1 for path or name $2 in $output.
has_problem() {
	jq -e --arg k "$1" --arg p "$2" -s \
		'map(select(.type == "problem" and .kind == $k and ((.path // "") == $p or (.path // "" | endswith($p)) or .name == $p))) | length > 0' \
		<<<"$output" >/dev/null
}
verify() { mirror-verify -d "$M" "$@" 2>"$BATS_TEST_TMPDIR/verify.log"; }
# Parts of the walk a checkpoint ($ck) holds the findings of.
parts_done() { ls "$ck" | grep -c '^findings\.[0-9a-f][0-9a-f]$'; }
checkpointed() { [ -e "$ck/links.index" ] && [ "$(parts_done 2>/dev/null)" -gt 0 ]; }

@test "1801 a clean sync verifies: no problem, exit 0, the summary counts the pages, files and companions" {
	run verify --hash --json
	assert_success
	[ "$(jq -s 'map(select(.type == "problem")) | length' <<<"$output")" -eq 0 ]
	summary=$(tail -1 <<<"$output")
	[ "$(jq -r .type <<<"$summary")" = verified ]
	[ "$(jq .projects <<<"$summary")" -eq "$(ls -d "$W"/simple/*/ | wc -l)" ]
	[ "$(jq .files <<<"$summary")" -eq "$(files | wc -l)" ]
	[ "$(jq .walked <<<"$summary")" -eq "$(find "$W/packages" -type f | wc -l)" ]
	# The checkpoint is gone after a complete run.
	[ ! -e "$M/.pypi-mirror.verify-checkpoint" ]
}

@test "1802 every damage is named, with the project to repair; exit 6; nothing is removed or followed" {
	local -a f
	mapfile -t f < <(files) # taken once: the damage below changes the list
	del=${f[0]} trunc=${f[1]} corrupt=${f[2]}
	meta=$(cd "$W" && find packages -name '*.metadata' | sort | sed -n 4p)
	rm "$W/$del"
	truncate -s 10 "$W/$trunc"
	size=$(stat -c %s "$W/$corrupt")
	printf 'X' | dd of="$W/$corrupt" bs=1 seek=3 conv=notrunc 2>/dev/null
	[ "$(stat -c %s "$W/$corrupt")" -eq "$size" ]
	rm "$W/$meta"
	strayf="$(dirname "${f[3]}")/leftover.whl"
	echo junk >"$W/$strayf"
	dead="$(dirname "${f[4]}")/.$(basename "${f[4]}").999999.0123abcd.tmp"
	echo partial >"$W/$dead"
	alive="$(dirname "${f[5]}")/.$(basename "${f[5]}").$$.89abcdef.tmp"
	echo writing >"$W/$alive"
	echo secret >"$BATS_TEST_TMPDIR/outside"
	evil="$(dirname "${f[6]}")/evil" pipe="$(dirname "${f[7]}")/pipe"
	ln -s "$BATS_TEST_TMPDIR/outside" "$W/$evil"
	mkfifo "$W/$pipe"
	odd="packages/ab/odd"$'\xff\n'"name"
	mkdir -p "$W/packages/ab" && echo x >"$W/$odd"
	# The root index loses its first project; one page stops parsing.
	dropped=$(jq -r '.projects[0].name' "$W/simple/index.v1_json")
	jq -c '.projects |= .[1:]' "$W/simple/index.v1_json" >"$BATS_TEST_TMPDIR/r" && cp "$BATS_TEST_TMPDIR/r" "$W/simple/index.v1_json"
	page=$(ls "$W/simple" | grep -v '^index' | tail -1)
	echo '{broken' >"$W/simple/$page/index.v1_json"
	# A JSON API copy that disagrees with its page.
	jq -c '.releases |= map_values(map(.digests.sha256 = ("0" * 64)))' "$W/pypi/$(owner "$trunc")/json" >"$BATS_TEST_TMPDIR/j"
	cp "$BATS_TEST_TMPDIR/j" "$W/pypi/$(owner "$trunc")/json"
	before=$(cd "$W" && find . | sort)

	run verify --hash --json
	[ "$status" -eq 6 ]
	has_problem missing "$del"
	has_problem size "$trunc"
	has_problem hash "$corrupt"
	has_problem metadata "$meta"
	has_problem stray "$strayf"
	has_problem temp "$dead"
	has_problem temp "$alive"
	jq -e -s --arg p "$alive" 'map(select(.path == $p))[0] | .damage == false and (.detail | test("running"))' <<<"$output"
	has_problem unsafe "$evil"
	has_problem unsafe "$pipe"
	has_problem stray 'packages/ab/odd\xff\x0aname'
	has_problem root "$(sed 's/[._]/-/g; s/.*/\L&/' <<<"$dropped")"
	has_problem page "$page"
	has_problem json "$(owner "$trunc")"
	# One project record per damaged project, with its page's serial.
	for f in "$del" "$trunc" "$corrupt" "$meta"; do
		n=$(owner "${f%.metadata}")
		s=$(jq '.meta."_last-serial"' "$W/simple/$n/index.v1_json")
		jq -e -s --arg n "$n" --argjson s "$s" 'map(select(.type == "project" and .name == $n and .serial == $s)) | length == 1' <<<"$output"
	done
	jq -e -s --arg n "$page" 'map(select(.type == "project" and .name == $n)) | length == 1' <<<"$output"
	[ "$(tail -1 <<<"$output" | jq -r .type)" = verified ]
	# Nothing was removed, nothing followed or written through the link.
	[ "$(cd "$W" && find . | sort)" = "$before" ]
	[ "$(cat "$BATS_TEST_TMPDIR/outside")" = secret ]
}

@test "1803 the repair pipeline, then --gc, restore a tree identical to the clean sync" {
	local -a f
	mapfile -t f < <(files)
	rm "$W/${f[0]}"
	truncate -s 10 "$W/${f[1]}"
	printf 'X' | dd of="$W/${f[2]}" bs=1 seek=3 conv=notrunc 2>/dev/null
	rm "$W/$(cd "$W" && find packages -name '*.metadata' | sort | sed -n 4p)"
	jq -c '.projects |= .[1:]' "$W/simple/index.v1_json" >"$BATS_TEST_TMPDIR/r" && cp "$BATS_TEST_TMPDIR/r" "$W/simple/index.v1_json"
	page=$(ls "$W/simple" | grep -v '^index' | tail -1)
	echo '{broken' >"$W/simple/$page/index.v1_json"
	echo junk >"$W/$(dirname "${f[3]}")/leftover.whl"
	echo partial >"$W/$(dirname "${f[4]}")/.$(basename "${f[4]}").999999.0123abcd.tmp"
	ln -s /etc/passwd "$W/$(dirname "${f[5]}")/evil"

	# The repair, as the wrapper runs it (json = true: spool and --json).
	run bash -c 'exec 2>"$4"; mirror-verify -d "$1" --hash --json |
		pkg-resolve -u "$2" --allow-non-https --save-json "$3" |
		artifact-get -d "$1" -u "$2" --allow-non-https --compare-method hash |
		index-write -d "$1" --json; echo "rc=${PIPESTATUS[*]}"' _ "$M" "$EMU_URL" "$M/.spool" "$BATS_TEST_TMPDIR/repair.log"
	assert_line "rc=6 0 0 0"
	# problem and verified records passed through every tool to the end.
	jq -e -s 'map(select(.type == "problem")) | length > 0' <<<"${output%rc=*}"
	jq -e -s 'map(select(.type == "synced")) | length == 4' <<<"${output%rc=*}"
	# What is left are the strays, the temporary and the link: --gc takes them.
	run verify --gc --gc-list "$BATS_TEST_TMPDIR/gc.list"
	assert_success
	[ "$(wc -l <"$BATS_TEST_TMPDIR/gc.list")" -eq 3 ]
	run verify --hash --json
	assert_success
	rm -rf "$M/.spool" "$M/pypi-mirror.last-run"
	diff -r --no-dereference "$CLEAN/web" "$W"
	[ -z "$(find "$W" -type d -empty)" ]
	[ "$(cat "$M/status")" = "$(cat "$CLEAN/status")" ]
}

@test "1804 --gc removes exactly the strays and dead temporaries, within --max-deletions, and lists them" {
	local -a f
	mapfile -t f < <(files)
	linked=${#f[@]}
	for i in 0 1 2 3; do echo junk >"$W/$(dirname "${f[$i]}")/stray$i"; done
	echo partial >"$W/$(dirname "${f[4]}")/.$(basename "${f[4]}").999999.0123abcd.tmp"
	alive="$(dirname "${f[5]}")/.$(basename "${f[5]}").$$.89abcdef.tmp"
	echo writing >"$W/$alive"
	echo secret >"$BATS_TEST_TMPDIR/outside"
	ln -s "$BATS_TEST_TMPDIR/outside" "$W/packages/link"
	mkdir -p "$W/packages/zz/deep" && echo x >"$W/packages/zz/deep/orphan"

	run verify --gc --max-deletions 3 --gc-list "$BATS_TEST_TMPDIR/gc.list"
	[ "$status" -eq 6 ] # the rest is left: damage remains
	[ "$(wc -l <"$BATS_TEST_TMPDIR/gc.list")" -eq 3 ]
	while read -r p; do [ ! -e "$W/$p" ]; [ ! -L "$W/$p" ]; done <"$BATS_TEST_TMPDIR/gc.list"
	[ "$(jq -s 'map(select(.removed == true)) | length' <<<"$output")" -eq 3 ]

	run verify --gc --max-deletions 0 --gc-list "$BATS_TEST_TMPDIR/gc.list"
	assert_success
	[ "$(wc -l <"$BATS_TEST_TMPDIR/gc.list")" -eq 4 ] # 4 strays, a temporary, a link, an orphan: 7 - 3
	# Every linked file and companion is still there, the live writer's
	# temporary too, and the link's target was never touched.
	[ "$(files | wc -l)" -eq $((linked + 1)) ] # and the live writer's temporary
	[ -f "$W/$alive" ]
	[ ! -L "$W/packages/link" ]
	[ "$(cat "$BATS_TEST_TMPDIR/outside")" = secret ]
	[ ! -e "$W/packages/zz" ]
	run verify --hash --json
	assert_success
	diff -r <(cd "$CLEAN/web" && find . -type f | sort) <(cd "$W" && find . -type f ! -name ".*.$$.89abcdef.tmp" | sort)
}

@test "1805 --gc takes nothing while a page cannot be read (its files' owner is unknown)" {
	page=$(ls "$W/simple" | grep -v '^index' | head -1)
	echo '{broken' >"$W/simple/$page/index.v1_json"
	n=$(find "$W/packages" -type f | wc -l)
	run verify --gc
	[ "$status" -eq 6 ]
	has_problem page "$page"
	jq -e -s 'map(select(.kind == "stray" and (.detail | test("not removed")))) | length > 0' <<<"$output"
	[ "$(find "$W/packages" -type f | wc -l)" -eq "$n" ]
	[ "$(jq -s 'map(select(.removed == true)) | length' <<<"$output")" -eq 0 ]
}

@test "1806 a link outside packages/, a symlinked page directory and a symlinked prefix are refused by name, never followed" {
	n=$(ls "$W/simple" | grep -v '^index' | head -1)
	jq -c '.files[0].url = "../../../../etc/passwd"' "$W/simple/$n/index.v1_json" >"$BATS_TEST_TMPDIR/p"
	cp "$BATS_TEST_TMPDIR/p" "$W/simple/$n/index.v1_json"
	n2=$(ls "$W/simple" | grep -v '^index' | sed -n 2p)
	jq -c '.files[0].url = "../../packages/../packages/" + (.files[0].url | sub("^\\.\\./\\.\\./packages/"; ""))' \
		"$W/simple/$n2/index.v1_json" >"$BATS_TEST_TMPDIR/p2"
	cp "$BATS_TEST_TMPDIR/p2" "$W/simple/$n2/index.v1_json"
	mkdir "$BATS_TEST_TMPDIR/elsewhere"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$W/simple/linked-project"
	prefix=$(files | head -1 | cut -d/ -f2)
	mv "$W/packages/$prefix" "$BATS_TEST_TMPDIR/prefix"
	ln -s "$BATS_TEST_TMPDIR/prefix" "$W/packages/$prefix"

	run verify --gc
	[ "$status" -eq 6 ]
	jq -e -s --arg n "$n" 'map(select(.kind == "unsafe" and .name == $n and (.detail | test("etc/passwd")))) | length == 1' <<<"$output"
	jq -e -s --arg n2 "$n2" 'map(select(.kind == "unsafe" and .name == $n2 and (.detail | test("\\.\\.")))) | length == 1' <<<"$output"
	has_problem unsafe "simple/linked-project"
	has_problem unsafe "packages/$prefix"
	# A page was refused, so --gc removed nothing; the symlinks are as they were.
	[ -L "$W/simple/linked-project" ]
	[ -L "$W/packages/$prefix" ]
	[ "$(find "$BATS_TEST_TMPDIR/prefix" -type f | wc -l)" -gt 0 ]
}

@test "1807 DIR/status ahead of the pages is reported; a missing root index is named with how to rebuild it" {
	echo 999999 >"$M/status"
	rm "$W/simple/index.v1_json"
	run verify
	[ "$status" -eq 6 ]
	jq -e -s 'map(select(.kind == "status" and (.detail | test("999999")))) | length == 1' <<<"$output"
	jq -e -s 'map(select(.kind == "root" and (.detail | test("rebuild-root")))) | length == 1' <<<"$output"
}

@test "1808 a verify killed with SIGKILL resumes from its checkpoint and reports the same findings" {
	# Enough strays in every prefix that the report outgrows a pipe buffer:
	# verify blocks writing it, mid-walk, and is killed there.
	"$PY" - "$W/packages" <<'PY'
import hashlib, os, sys
for i in range(600):
    h = hashlib.sha256(str(i).encode()).hexdigest()
    d = os.path.join(sys.argv[1], h[:2], h[2:4], h[4:64])
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, f"stray-file-with-a-rather-long-name-{i}.tar.gz"), "w").write(str(i))
PY
	mkfifo "$BATS_TEST_TMPDIR/out"
	exec 4<>"$BATS_TEST_TMPDIR/out" # a reader that never reads
	# setsid: a process group of its own, for bg_kill (SIGKILL).
	setsid mirror-verify -d "$M" -j 1 >"$BATS_TEST_TMPDIR/out" 2>/dev/null 3>&- &
	BG_PID=$!
	ck="$M/.pypi-mirror.verify-checkpoint"
	wait_until 10 "a checkpoint with a finished part" checkpointed
	bg_kill
	exec 4<&-
	done_parts=$(parts_done)
	[ "$done_parts" -gt 0 ]
	[ "$done_parts" -lt 256 ]

	run verify -v
	[ "$status" -eq 6 ]
	grep -q "Resuming: $((257 - done_parts)) of 257 parts" "$BATS_TEST_TMPDIR/verify.log"
	[ "$(tail -1 <<<"$output" | jq .resumed)" = true ]
	resumed=$(jq -c -s 'map(select(.type == "problem")) | sort_by(.path)' <<<"$output")
	[ ! -e "$ck" ]
	run verify
	[ "$status" -eq 6 ]
	[ "$(tail -1 <<<"$output" | jq .resumed)" = false ]
	[ "$(jq -c -s 'map(select(.type == "problem")) | sort_by(.path)' <<<"$output")" = "$resumed" ]
	[ "$(jq -s 'map(select(.kind == "stray")) | length' <<<"$output")" -eq 600 ]
}

@test "1809 usage and fatal errors: no -d, --gc-list without --gc, a missing mirror" {
	run mirror-verify
	[ "$status" -eq 2 ]
	run mirror-verify -d "$M" --gc-list x
	[ "$status" -eq 2 ]
	run mirror-verify -d "$BATS_TEST_TMPDIR/nope"
	[ "$status" -eq 3 ]
	run mirror-verify --help
	assert_success
	assert_output --partial "Exit status"
}
