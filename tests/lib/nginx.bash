# Bats helpers: a private nginx serving a mirror's web/ directory with the
# shipped configuration (contrib/nginx/pypi-mirror.conf, or its njs variant).
#
#   load lib/nginx                (from a .bats file in tests/)
#
#   nginx_start WEBROOT   start nginx on a free loopback port, serving
#                         WEBROOT; exports NGINX_URL (http://127.0.0.1:PORT),
#                         NGINX_DIR (its config, logs, pid, cache), NGINX_PID,
#                         NGINX_ACCESS_LOG (the shipped "combined" log)
#   nginx_stop            stop it (call from teardown)
#
# Environment read by nginx_start:
#   NGINX_VARIANT         "static" (default: contrib/nginx/pypi-mirror.conf)
#                         or "njs" (pypi-mirror-njs.conf + pypi-mirror.js,
#                         with Debian's ngx_http_js_module loaded), or
#                         "plain" (lib/nginx-plain.conf: a bare static
#                         server, another site's static mirror)
#   NGINX_TLS             1: https with lib/tls's server certificate;
#                         NGINX_URL is then https://127.0.0.1:PORT
#   NGINX_MISS            the miss mode: off (default), redirect or proxy
#   NGINX_UPSTREAM        $pypi_mirror_upstream (e.g. the emulator's URL)
#   NGINX_FILES_UPSTREAM  $pypi_mirror_files_upstream (default NGINX_UPSTREAM)
#
# The server block is the shipped file itself, with only its "listen",
# "root", "access_log", "proxy_cache_path", "js_import" and "set
# $pypi_mirror_..." lines replaced, so the tests exercise the configuration
# operators get. Everything nginx writes (pid, error and access logs, cache,
# temp dirs) is under NGINX_DIR; nothing needs root, but when run as root the
# workers run as root too so they can read the test's private temp
# directories. Besides the shipped combined log (NGINX_ACCESS_LOG), every
# request is also written to NGINX_DIR/access.log as
#   METHOD URI STATUS "Content-Type sent" "Accept received"

NGINX_HELPER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NGINX_CONTRIB_DIR="$NGINX_HELPER_DIR/../../contrib/nginx"
NGINX_JS_MODULE="${NGINX_JS_MODULE:-/usr/lib/nginx/modules/ngx_http_js_module.so}"
NGINX_BIN="${NGINX_BIN:-$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)}"

_nginx_free_port() {
    "${PYTHON:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Writes NGINX_DIR/nginx.conf for PORT and WEBROOT.
_nginx_write_conf() {
    local port="$1" webroot="$2" dir="$NGINX_DIR" conf load="" variant="${NGINX_VARIANT:-static}"
    local miss="${NGINX_MISS:-off}" up="${NGINX_UPSTREAM:-}" files_up="${NGINX_FILES_UPSTREAM:-${NGINX_UPSTREAM:-}}"
    case $variant in
    static) conf="${NGINX_SHIPPED_CONF:-$NGINX_CONTRIB_DIR/pypi-mirror.conf}" ;;
    plain) conf="$NGINX_HELPER_DIR/nginx-plain.conf" ;;
    njs)
        conf="${NGINX_SHIPPED_CONF:-$NGINX_CONTRIB_DIR/pypi-mirror-njs.conf}"
        load="load_module $NGINX_JS_MODULE;"
        ;;
    *) echo "nginx_start: NGINX_VARIANT is static, njs or plain, not '$variant'" >&2; return 1 ;;
    esac
    local -a sed_args=(
        -e "s|^\([[:space:]]*\)listen 80;|\1listen 127.0.0.1:$port;|"
        -e "s|^\([[:space:]]*\)root /srv/pypi/web;|\1root $webroot;|"
        -e "s|^\([[:space:]]*\)access_log /var/log/nginx/pypi-mirror.access.log combined;|\1access_log $dir/combined.log combined; access_log $dir/access.log pm;|"
        -e "s|^proxy_cache_path /var/lib/nginx/pypi-mirror-cache |proxy_cache_path $dir/cache |"
        -e "s|^js_import pypi_mirror from /usr/share/pypi-mirror/nginx/pypi-mirror.js;|js_import pypi_mirror from $NGINX_CONTRIB_DIR/pypi-mirror.js;|"
        -e "s|^\([[:space:]]*\)set \$pypi_mirror_miss off;|\1set \$pypi_mirror_miss $miss;|"
    )
    [[ -n "$up" ]] && sed_args+=(-e "s|^\([[:space:]]*\)set \$pypi_mirror_upstream https://pypi.org;|\1set \$pypi_mirror_upstream $up;|")
    [[ -n "$files_up" ]] && sed_args+=(-e "s|^\([[:space:]]*\)set \$pypi_mirror_files_upstream https://files.pythonhosted.org;|\1set \$pypi_mirror_files_upstream $files_up;|")
    sed "${sed_args[@]}" "$conf" >"$dir/pypi-mirror.conf" || return 1
    # The substitutions must have happened, or we would test something else.
    local want
    for want in "listen 127.0.0.1:$port;" "root $webroot;" "access_log $dir/combined.log combined;" \
        "proxy_cache_path $dir/cache " "set \$pypi_mirror_miss $miss;" \
        ${up:+"set \$pypi_mirror_upstream $up;"} ${files_up:+"set \$pypi_mirror_files_upstream $files_up;"} \
        ${load:+"js_import pypi_mirror from $NGINX_CONTRIB_DIR/pypi-mirror.js;"}; do
        grep -qF -- "$want" "$dir/pypi-mirror.conf" || {
            echo "nginx_start: $conf: the line to replace for '$want' is not there" >&2
            return 1
        }
    done
    if [[ "${NGINX_TLS:-}" == 1 ]]; then
        sed -i "s|listen 127.0.0.1:$port;|listen 127.0.0.1:$port ssl; ssl_certificate $TLS_DIR/server.pem; ssl_certificate_key $TLS_DIR/server.key;|" \
            "$dir/pypi-mirror.conf" || return 1
    fi
    local user=""
    [[ "$(id -u)" == 0 ]] && user="user root;"
    cat >"$dir/nginx.conf" <<EOF
$user
$load
worker_processes 1;
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 64; }
http {
    # What tests look at: the path, status, type served and type asked for.
    log_format pm '\$request_method \$request_uri \$status "\$sent_http_content_type" "\$http_accept"';
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
                local scheme=http
                [[ "${NGINX_TLS:-}" == 1 ]] && scheme=https
                export NGINX_PID NGINX_PORT="$port" NGINX_URL="$scheme://127.0.0.1:$port" \
                    NGINX_ACCESS_LOG="$NGINX_DIR/combined.log"
                for i in $(seq 1 100); do
                    curl -s ${NGINX_TLS:+--cacert "$TLS_DIR/ca.pem"} -o /dev/null "$NGINX_URL/" && return 0
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
