# Bats helpers: a private nginx serving a mirror's web/ directory with the
# shipped configuration (contrib/nginx/pypi-mirror.conf).
#
#   load lib/nginx                (from a .bats file in tests/)
#
#   nginx_start WEBROOT   start nginx on a free loopback port, serving
#                         WEBROOT; exports NGINX_URL (http://127.0.0.1:PORT),
#                         NGINX_DIR (its config, logs, pid), NGINX_PID
#   nginx_stop            stop it (call from teardown)
#
# The server block is the shipped file itself, with only its "listen" and
# "root" lines replaced, so the tests exercise the negotiation operators get.
# Everything nginx writes (pid, error and access logs, temp dirs) is under
# NGINX_DIR; nothing needs root, but when run as root the workers run as root
# too so they can read the test's private temp directories.

NGINX_HELPER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NGINX_SHIPPED_CONF="${NGINX_SHIPPED_CONF:-$NGINX_HELPER_DIR/../../contrib/nginx/pypi-mirror.conf}"
NGINX_BIN="${NGINX_BIN:-$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)}"

_nginx_free_port() {
    "${PYTHON:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Writes NGINX_DIR/nginx.conf for PORT and WEBROOT.
_nginx_write_conf() {
    local port="$1" webroot="$2" dir="$NGINX_DIR"
    sed -e "s|^\([[:space:]]*\)listen 80;|\1listen 127.0.0.1:$port;|" \
        -e "s|^\([[:space:]]*\)root /srv/pypi/web;|\1root $webroot;|" \
        "$NGINX_SHIPPED_CONF" >"$dir/pypi-mirror.conf" || return 1
    # The substitutions must have happened, or we would test something else.
    grep -q "listen 127.0.0.1:$port;" "$dir/pypi-mirror.conf" &&
        grep -qF "root $webroot;" "$dir/pypi-mirror.conf" || {
        echo "nginx_start: cannot find 'listen 80;' and 'root /srv/pypi/web;' in $NGINX_SHIPPED_CONF" >&2
        return 1
    }
    local user=""
    [[ "$(id -u)" == 0 ]] && user="user root;"
    cat >"$dir/nginx.conf" <<EOF
$user
worker_processes 1;
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 64; }
http {
    # What tests look at: the path, status, type served and type asked for.
    log_format pm '\$request_method \$request_uri \$status "\$sent_http_content_type" "\$http_accept"';
    access_log $dir/access.log pm;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    sendfile on;
    include $dir/pypi-mirror.conf;
}
EOF
}

nginx_start() {
    local webroot="${1:?nginx_start WEBROOT}"
    webroot="$(cd "$webroot" && pwd)" || return 1
    NGINX_DIR="$(mktemp -d "${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}/nginx.XXXXXX")" || return 1
    mkdir -p "$NGINX_DIR/tmp"
    export NGINX_DIR
    local attempt port i
    for attempt in 1 2 3 4 5; do
        port="$(_nginx_free_port)" || return 1
        _nginx_write_conf "$port" "$webroot" || return 1
        "$NGINX_BIN" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" -t \
            >"$NGINX_DIR/test.out" 2>&1 || {
            echo "nginx_start: configuration test failed:" >&2
            cat "$NGINX_DIR/test.out" >&2
            return 1
        }
        # daemon on: the master forks and this returns once it is listening
        # (or has failed); fd 3 is Bats' own and must not be inherited.
        if "$NGINX_BIN" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" \
            </dev/null >"$NGINX_DIR/start.out" 2>&1 3>&-; then
            for i in $(seq 1 100); do
                [[ -s "$NGINX_DIR/nginx.pid" ]] && break
                sleep 0.05
            done
            NGINX_PID="$(cat "$NGINX_DIR/nginx.pid" 2>/dev/null)"
            if [[ -n "$NGINX_PID" ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
                export NGINX_PID NGINX_PORT="$port" NGINX_URL="http://127.0.0.1:$port"
                for i in $(seq 1 100); do
                    curl -s -o /dev/null "$NGINX_URL/" && return 0
                    sleep 0.05
                done
                echo "nginx_start: nginx does not answer on $NGINX_URL" >&2
                cat "$NGINX_DIR/error.log" >&2
                nginx_stop
                return 1
            fi
        fi
        # Most likely the port was taken in between: try another.
        grep -q "Address already in use" "$NGINX_DIR/error.log" "$NGINX_DIR/start.out" 2>/dev/null || break
    done
    echo "nginx_start: nginx did not start:" >&2
    cat "$NGINX_DIR/start.out" "$NGINX_DIR/error.log" >&2 2>/dev/null
    return 1
}

nginx_stop() {
    local pid="${NGINX_PID:-}" i
    [[ -z "$pid" && -n "${NGINX_DIR:-}" && -s "$NGINX_DIR/nginx.pid" ]] && pid="$(cat "$NGINX_DIR/nginx.pid")"
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || { unset NGINX_PID; return 0; }
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    unset NGINX_PID
}
