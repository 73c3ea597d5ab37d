# The set-up every Bats file in tests/ shares: load it first, with
#
#   load lib/common
#
# It loads bats-support, bats-assert and lib/emulator, and gives:
#
#   emu_file_start [GENERATE ARGS]   (setup_file) one emulator for the file,
#                      its state in $BATS_FILE_TMPDIR/emu, generated with
#                      those args (none: the emulator's defaults)
#   tool_env [RETRIES [BACKOFF]]     (setup) retries and backoff for the
#                      tools (default 1 and 0.1), and nothing inherited that
#                      would point a tool elsewhere (config, upstream, clock)
#   mirror_setup [RETRIES [BACKOFF]]  (setup) tool_env, and the names of
#                      the test's mirror (not created): M, its configuration
#                      CONF and log directory LOGDIR, under $BATS_TEST_TMPDIR
#   admin OP [KEY=VALUE...]          an emulator admin operation, quietly
#                      (emu_admin prints the answer); fails unless it is ok
#   write_config FILE DIR LOGDIR [MIRROR_LINES] [OURS_LINES] [MORE]
#                      a pypi-mirror configuration: mirror DIR of the
#                      emulator, over plain HTTP, two workers, no stale
#                      backoff; extra lines for [mirror], [pypi-mirror], and
#                      whole sections after them
#   plugins_section PLUGIN..., allowlist_section PROJECT...   print the
#                      [plugins] (filters enabled) and [allowlist] sections
#   pm ARGS...         pypi-mirror -c "$CONF" ARGS
#   pm_background ARGS...  the same in the background, in a process group
#                      of its own (BG_PID; output in $BATS_TEST_TMPDIR/bg.out);
#                      bg_kill kills the whole group (teardown does too)
#   new_release NAME VERSION [PAD]   a new release upstream (two files); sets
#                      TAR and WHL (paths under web/) and TARNAME, WHLNAME
#   upstream_serial, simple_root, norm NAME, status (DIR/status of $M)
#   emu_logged PATTERN               the emulator's request log matches
#   wait_until SECONDS WHAT CMD...   polls CMD until it succeeds; fails the
#                      test naming WHAT when SECONDS pass first
#   refute_grep PATTERN FILE         FILE exists and no line matches PATTERN
#                      (grep's basic regex); a bare `! grep` under errexit
#                      checks nothing
#   serve_dir DIR [LOG]              a static HTTP server over DIR on a free
#                      port: SERVE_URL, SERVE_PID; serve_stop stops it
#   watcher ARGS...    lib/watcher.py (the mirror's state invariants)
#   PY                 the real python3 (not a version manager's shim)
#
# teardown_file stops every emulator the file started, and teardown kills
# a background run and a static server; a file that defines its own calls
# common_teardown (or common_teardown_file) from it.

bats_require_minimum_version 1.5.0
load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load
COMMON_LIB="${BASH_SOURCE[0]%/*}"
load "$COMMON_LIB/emulator"

# The interpreter itself: a version manager's shim costs most of a second
# per start on a loaded machine, and the tests start helpers often. Also
# first on PATH, for the helpers that call python3 by name.
if [[ -n "${BATS_FILE_TMPDIR:-}" ]]; then
	PY="$(_emu_python)"
	export PY
	if [[ ! -e "$BATS_FILE_TMPDIR/bin/python3" ]]; then
		mkdir -p "$BATS_FILE_TMPDIR/bin"
		ln -sf "$PY" "$BATS_FILE_TMPDIR/bin/python3"
	fi
	[[ ":$PATH:" == *":$BATS_FILE_TMPDIR/bin:"* ]] || export PATH="$BATS_FILE_TMPDIR/bin:$PATH"
fi

emu_file_start() {
	export EMU_STATE="$BATS_FILE_TMPDIR/emu"
	if [[ $# -gt 0 ]]; then
		emu_generate "$EMU_STATE" "$@" >/dev/null 2>&1 || {
			echo "emu_file_start: generate $* failed" >&2
			return 1
		}
	fi
	emu_start
}

tool_env() {
	unset PYPI_MIRROR_CONFIG PYPI_MIRROR_UPSTREAM PYPI_MIRROR_ALLOW_NON_HTTPS PYPI_MIRROR_NOW PYPI_MIRROR_LOG_LEVEL
	export PYPI_MIRROR_RETRIES="${1:-1}" PYPI_MIRROR_BACKOFF="${2:-0.1}"
}

mirror_setup() {
	tool_env "$@"
	M="$BATS_TEST_TMPDIR/mirror"
	CONF="$BATS_TEST_TMPDIR/pypi-mirror.conf"
	LOGDIR="$BATS_TEST_TMPDIR/log"
}

admin() { emu_admin "$@" >/dev/null; }

write_config() {
	cat >"$1" <<-EOF
	[mirror]
	directory = $2
	master = $EMU_URL
	allow-non-https = true
	workers = 2
	${4:-}

	[pypi-mirror]
	log-dir = $3
	stale-backoff = 0
	${5:-}

	${6:-}
	EOF
}

plugins_section() { printf '[plugins]\nenabled =\n'; printf '    %s\n' "$@"; }
allowlist_section() { printf '[allowlist]\npackages =\n'; printf '    %s\n' "$@"; }

pm() { pypi-mirror -c "$CONF" "$@"; }

# True when the tools under test are the sanitized build (tests/run's
# second pass): its shadow memory lifts every peak RSS, so absolute memory
# bounds hold for the plain build only; relative ones hold for both.
sanitized_build() { ldd "$(command -v "${1:-artifact-get}")" 2>/dev/null | grep -q libasan; }

# assert_loads_lazily PROGRAM LIB...: PROGRAM is linked against none of the
# LIBs (it opens each at its first use: tools/lib/lazy/), and names the
# soname the other tools of the build are linked against, so that what it
# opens is what they load.
assert_loads_lazily() {
	local prog=$1 needed lib soname t
	shift
	needed=$(readelf -d "$prog") || fail "readelf -d $prog failed"
	[[ $needed == *"(NEEDED)"* ]] || fail "$prog has no NEEDED entries: $needed"
	for lib in "$@"; do
		[[ $needed != *"[$lib."* ]] || fail "$prog is linked against $lib: $needed"
		soname=''
		for t in artifact-get changelog-fetch; do
			soname=$(readelf -d "$(command -v "$t")" | sed -n "s/.*(NEEDED).*\[\($lib\.so\.[0-9]*\)\]/\1/p")
			[ -z "$soname" ] || break
		done
		[ -n "$soname" ] || fail "neither artifact-get nor changelog-fetch is linked against $lib"
		grep -aqF "$soname" "$prog" || fail "$prog does not name $soname, which the other tools load"
	done
}

pm_background() {
	# setsid: its own process group, so that one kill takes every tool.
	setsid pypi-mirror -c "$CONF" "$@" >"$BATS_TEST_TMPDIR/bg.out" 2>&1 3>&- &
	BG_PID=$!
}

# Kills the background run's whole process group and reaps it.
bg_kill() {
	[[ -n "${BG_PID:-}" ]] || return 0
	kill -KILL -- "-$BG_PID" 2>/dev/null
	# Reaped, not checked: its status is the kill's (137).
	wait "$BG_PID" 2>/dev/null || true
	BG_PID=
	return 0
}

new_release() {
	admin new-release name="$1" version="$2" pad="${3:-20000}"
	local doc
	doc=$(curl -fsS "$EMU_URL/pypi/$1/json?fresh=$RANDOM")
	TAR=$(jq -r --arg v "$2" '.releases[$v][] | select(.packagetype == "sdist") | .url | sub("^[a-z]+://[^/]+/"; "")' <<<"$doc")
	WHL=$(jq -r --arg v "$2" '.releases[$v][] | select(.packagetype == "bdist_wheel") | .url | sub("^[a-z]+://[^/]+/"; "")' <<<"$doc")
	TARNAME=${TAR##*/} WHLNAME=${WHL##*/}
	[ -n "$TAR" ] && [ -n "$WHL" ]
}

simple_root() { curl -fsS -H 'Accept: application/vnd.pypi.simple.v1+json' "$EMU_URL/simple/"; }
upstream_serial() { simple_root | jq '.meta."_last-serial"'; }
norm() { local n=${1,,}; n=${n//[._]/-}; while [[ $n == *--* ]]; do n=${n//--/-}; done; printf '%s\n' "$n"; }
status() { cat "$M/status"; }
watcher() { "$PY" "$COMMON_LIB/watcher.py" "$@"; }
emu_logged() { emu_log | grep -q -e "$1"; }

# first_record_while_open FILE CMD...: CMD reads FILE's lines from a pipe
# that stays open after them; sets `line` to the first record CMD writes
# within 20 s (empty if none), then closes the pipe so CMD ends. A tool
# that held its records until its input ended fails this.
first_record_while_open() {
	local input=$1 fifo
	shift
	fifo=$(mktemp -u "$BATS_TEST_TMPDIR/open.XXXXXX")
	mkfifo "$fifo"
	exec 7< <("$@" <"$fifo" 2>"$fifo.err")
	exec 8>"$fifo"
	cat "$input" >&8
	line=
	IFS= read -r -t 20 -u 7 line || true
	exec 8>&-
	exec 7<&-
	[[ -n "$line" ]] || fail "no record while the input stayed open: $(cat "$fifo.err")"
}

wait_until() {
	local seconds=$1 what=$2
	shift 2
	local deadline=$((SECONDS + seconds))
	until "$@"; do
		[ $SECONDS -lt $deadline ] || fail "waited ${seconds} s for $what"
		sleep 0.05
	done
}

refute_grep() {
	local pattern=$1 file=$2 hits
	[ -f "$file" ] || fail "$file: no such file"
	if hits=$(grep -m 3 -e "$pattern" "$file"); then
		fail "$file has lines matching '$pattern': $hits"
	fi
}

serve_dir() {
	local portfile="$BATS_TEST_TMPDIR/serve.port"
	rm -f "$portfile"
	"$PY" - "$1" "$portfile" "${2:-}" >"${2:-/dev/null}" 2>&1 3>&- <<-'EOF' &
	import functools, http.server, os, sys
	h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
	if not sys.argv[3]:
	    h.log_message = lambda *a: None
	s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
	open(sys.argv[2] + ".tmp", "w").write(str(s.server_address[1]))
	os.rename(sys.argv[2] + ".tmp", sys.argv[2])
	s.serve_forever()
	EOF
	SERVE_PID=$!
	wait_until 10 "the static server's port" test -s "$portfile"
	SERVE_URL="http://127.0.0.1:$(cat "$portfile")"
}

serve_stop() {
	[[ -n "${SERVE_PID:-}" ]] || return 0
	kill "$SERVE_PID" 2>/dev/null
	wait "$SERVE_PID" 2>/dev/null || true
	SERVE_PID=
	return 0
}

common_teardown() {
	bg_kill
	serve_stop
}

common_teardown_file() { emu_stop_all; }

teardown() { common_teardown; }
teardown_file() { common_teardown_file; }
