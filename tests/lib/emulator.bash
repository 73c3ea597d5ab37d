# Bats helpers for the PyPI emulator (tests/pypi-emulator/pypi-emulator).
#
#   load lib/emulator            (from a .bats file in tests/)
#
#   emu_generate DIR [generate args]   deterministic synthetic PyPI into DIR
#   emu_start [serve args]             start a server on a free port; exports
#                                      EMU_URL, EMU_PID, EMU_STATE, EMU_LOG
#   emu_stop                           stop the server emu_start started
#   emu_stop_all                       stop every server started from this file
#   emu_admin OP [key=value ...]       admin operation; prints the JSON answer
#   emu_stats                          prints GET /_emulator/stats (JSON)
#   emu_log                            prints GET /_emulator/log (NDJSON)
#
# Environment:
#   EMU_STATE          state dir (default: $BATS_TEST_TMPDIR/emu inside a test,
#                      $BATS_FILE_TMPDIR/emu in setup_file); generated if missing
#   EMU_GENERATE_ARGS  extra args for the implicit generate (e.g. "--projects 50")
#   EMU_START_TIMEOUT  seconds to wait for the port file (default 30; a
#                      normal start takes well under a second)
#   EMU_CACERT, EMU_CLIENT_CERT, EMU_CLIENT_KEY
#                      an emulator over https (lib/tls): the CA emu_admin,
#                      emu_stats and emu_log trust, and the client
#                      certificate they show
#   EMU_PYTHON         interpreter to run the emulator with (default: the
#                      python3 on PATH, resolved once per test file so that a
#                      pyenv-style shim is not paid for at every call).
#                      The emulator is standard-library only and is run
#                      with -S (no site-packages) to start faster.
#
# Always call emu_stop (or emu_stop_all) from teardown / teardown_file.

EMU_HELPER_DIR="${BASH_SOURCE[0]%/*}"
[[ "$EMU_HELPER_DIR" == "${BASH_SOURCE[0]}" ]] && EMU_HELPER_DIR=.
[[ "$EMU_HELPER_DIR" == /* ]] || EMU_HELPER_DIR="$PWD/$EMU_HELPER_DIR"
EMU_BIN="${EMU_BIN:-$EMU_HELPER_DIR/../pypi-emulator/pypi-emulator}"

_emu_tmp() {
    if [[ -n "${BATS_TEST_TMPDIR:-}" ]]; then
        printf '%s\n' "$BATS_TEST_TMPDIR"
    elif [[ -n "${BATS_FILE_TMPDIR:-}" ]]; then
        printf '%s\n' "$BATS_FILE_TMPDIR"
    else
        printf '%s\n' "${TMPDIR:-/tmp}"
    fi
}

# Where emu_start records the pids of the servers it started (for emu_stop_all).
_emu_pidfile() {
    printf '%s/emulator.pids\n' "${BATS_FILE_TMPDIR:-$(_emu_tmp)}"
}

# Set EMU_PYTHON to the real interpreter behind python3 (cached per test file).
_emu_python_init() {
    if [[ -z "${EMU_PYTHON:-}" || ! -x "${EMU_PYTHON:-}" ]]; then
        local cache=
        [[ -n "${BATS_FILE_TMPDIR:-}" ]] && cache="$BATS_FILE_TMPDIR/.emu-python"
        if [[ -n "$cache" && -s "$cache" && -x "$(<"$cache")" ]]; then
            EMU_PYTHON="$(<"$cache")"
        else
            EMU_PYTHON="$(python3 -c 'import sys; print(sys.executable)')" || return 1
            [[ -n "$cache" ]] && printf '%s\n' "$EMU_PYTHON" >"$cache"
        fi
        export EMU_PYTHON
    fi
}

# Print it.
_emu_python() {
    _emu_python_init && printf '%s\n' "$EMU_PYTHON"
}

emu_generate() {
    local dir="$1"
    shift
    _emu_python_init || return 1
    "$EMU_PYTHON" -S "$EMU_BIN" generate --state "$dir" "$@"
}

emu_start() {
    local state="${EMU_STATE:-$(_emu_tmp)/emu}"
    if [[ ! -f "$state/state.json" ]]; then
        # shellcheck disable=SC2086
        emu_generate "$state" ${EMU_GENERATE_ARGS:-} 2>/dev/null || {
            echo "emu_start: generate into $state failed" >&2
            return 1
        }
    fi
    local portfile log
    _emu_python_init || return 1
    portfile="$(mktemp "$(_emu_tmp)/emu-port.XXXXXX")"
    rm -f "$portfile"
    log="$(mktemp "$(_emu_tmp)/emu-serve.XXXXXX")"
    # fd 3 is Bats' own: a background child must not keep it open.
    "$EMU_PYTHON" -S "$EMU_BIN" serve --state "$state" --port 0 --port-file "$portfile" "$@" \
        >"$log" 2>&1 3>&- &
    local pid=$!
    echo "$pid" >>"$(_emu_pidfile)"
    local deadline=$(( SECONDS + ${EMU_START_TIMEOUT:-30} ))
    while [[ ! -s "$portfile" ]]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "emu_start: server exited early:" >&2
            cat "$log" >&2
            return 1
        fi
        if (( SECONDS >= deadline )); then
            echo "emu_start: no port file after ${EMU_START_TIMEOUT:-30}s" >&2
            kill "$pid" 2>/dev/null
            return 1
        fi
        sleep 0.05
    done
    EMU_PORT="$(<"$portfile")"
    EMU_PORT="${EMU_PORT//[[:space:]]/}"
    export EMU_PORT
    export EMU_URL="http://127.0.0.1:$EMU_PORT"
    export EMU_PID="$pid"
    export EMU_STATE="$state"
    export EMU_LOG="$log"
}

_emu_kill() {
    local pid="$1" tries=100
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    while (( tries-- > 0 )) && kill -0 "$pid" 2>/dev/null; do
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

emu_stop() {
    _emu_kill "${EMU_PID:-}"
    unset EMU_PID
}

emu_stop_all() {
    local f pid
    f="$(_emu_pidfile)"
    [[ -f "$f" ]] || return 0
    while read -r pid; do
        _emu_kill "$pid"
    done <"$f"
    rm -f "$f"
}

_emu_json_str() {
    local s="$1"
    s="${s//\\/\\\\}"
    s="${s//\"/\\\"}"
    s="${s//$'\n'/\\n}"
    s="${s//$'\t'/\\t}"
    s="${s//$'\r'/\\r}"
    printf '"%s"' "$s"
}

# Same contract as `pypi-emulator admin URL OP k=v...` (prints the JSON
# answer, fails unless it is {"ok": true, ...}), sent with curl to save a
# Python start per call.
emu_admin() {
    local url="${EMU_URL:?emu_admin: EMU_URL not set (call emu_start)}"
    local op="${1:?emu_admin: OP missing}" kv json out code
    shift
    if ! command -v curl >/dev/null; then
        _emu_python_init || return 1
        "$EMU_PYTHON" -S "$EMU_BIN" admin "$url" "$op" "$@"
        return
    fi
    json="{\"op\":$(_emu_json_str "$op")"
    for kv in "$@"; do
        if [[ "$kv" != *=* ]]; then
            echo "emu_admin: expected key=value, got '$kv'" >&2
            return 2
        fi
        json+=",$(_emu_json_str "${kv%%=*}"):$(_emu_json_str "${kv#*=}")"
    done
    json+="}"
    out="$(curl -sS ${EMU_CACERT:+--cacert "$EMU_CACERT"} \
        ${EMU_CLIENT_CERT:+--cert "$EMU_CLIENT_CERT" --key "$EMU_CLIENT_KEY"} \
        -X POST -H 'Content-Type: application/json' --data-binary "$json" \
        -w '\n%{http_code}' "$url/_emulator/admin")" || return 2
    code="${out##*$'\n'}"
    printf '%s' "${out%$'\n'*}"
    [[ "$code" == 200 ]]
}

emu_stats() {
    curl -fsS ${EMU_CACERT:+--cacert "$EMU_CACERT"} ${EMU_CLIENT_CERT:+--cert "$EMU_CLIENT_CERT" --key "$EMU_CLIENT_KEY"} \
        "${EMU_URL:?}/_emulator/stats"
}

emu_log() {
    curl -fsS ${EMU_CACERT:+--cacert "$EMU_CACERT"} ${EMU_CLIENT_CERT:+--cert "$EMU_CLIENT_CERT" --key "$EMU_CLIENT_KEY"} \
        "${EMU_URL:?}/_emulator/log"
}
