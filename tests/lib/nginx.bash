# Bats helpers: a private nginx serving a mirror's web/ directory with the
# shipped configuration (contrib/nginx/pypi-mirror.conf, or its njs variant).
#
#   load lib/nginx                (from a .bats file in tests/)
#
#   nginx_start WEBROOT   start nginx on a free loopback port, serving
#                         WEBROOT (for NGINX_VARIANT=store: the URL of the
#                         mirror's web/ in the store, e.g.
#                         http://127.0.0.1:PORT/v1/AUTH_test/BUCKET/PREFIX/web);
#                         exports NGINX_URL (http://127.0.0.1:PORT),
#                         NGINX_DIR (its config, logs, pid, cache), NGINX_PID,
#                         NGINX_ACCESS_LOG (the shipped "combined" log)
#   nginx_stop            stop it (call from teardown)
#
# Environment read by nginx_start:
#   NGINX_VARIANT         "static" (default: contrib/nginx/pypi-mirror.conf)
#                         or "njs" (pypi-mirror-njs.conf + pypi-mirror.js,
#                         with Debian's ngx_http_js_module loaded),
#                         "store" (pypi-mirror-store.conf + pypi-mirror.js:
#                         the mirror proxied out of an object store), or
#                         "plain" (lib/nginx-plain.conf: a bare static
#                         server, another site's static mirror)
#   NGINX_TLS             1: https with lib/tls's server certificate;
#                         NGINX_URL is then https://127.0.0.1:PORT
#   NGINX_MISS            the miss mode: off (default), redirect or proxy
#   NGINX_UPSTREAM        $pypi_mirror_upstream (e.g. the emulator's URL)
#   NGINX_FILES_UPSTREAM  $pypi_mirror_files_upstream (default NGINX_UPSTREAM)
#
# The server block is the shipped file itself, with only its "listen",
# "root", "access_log", "proxy_cache_path", "js_import", "set
# $pypi_mirror_..." and (store) upstream "server" lines replaced, so the
# tests exercise the configuration operators get. Everything nginx writes
# (pid, error and access logs, cache, temp dirs) is under NGINX_DIR;
# nothing needs root, but when run as root the workers run as root too so
# they can read the test's private temp directories. Besides the shipped
# combined log (NGINX_ACCESS_LOG), every request is also written to
# NGINX_DIR/access.log as
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
    store)
        conf="${NGINX_SHIPPED_CONF:-$NGINX_CONTRIB_DIR/pypi-mirror-store.conf}"
        load="load_module $NGINX_JS_MODULE;"
        ;;
    *) echo "nginx_start: NGINX_VARIANT is static, njs, store or plain, not '$variant'" >&2; return 1 ;;
    esac
    # The store variant: WEBROOT is http://HOST:PORT/PATH, the upstream's
    # server and the path of web/ in the store.
    local store_host="" store_path=""
    if [[ $variant == store ]]; then
        [[ $webroot =~ ^http://([^/]+)(/.*[^/])/?$ ]] || {
            echo "nginx_start: store variant: '$webroot' is not http://HOST:PORT/PATH" >&2
            return 1
        }
        store_host=${BASH_REMATCH[1]} store_path=${BASH_REMATCH[2]}
    fi
    local -a sed_args=(
        -e "s|^\([[:space:]]*\)listen 80;|\1listen 127.0.0.1:$port;|"
        -e "s|^\([[:space:]]*\)root /srv/pypi/web;|\1root $webroot;|"
        -e "s|^\([[:space:]]*\)access_log /var/log/nginx/pypi-mirror.access.log combined;|\1access_log $dir/combined.log combined; access_log $dir/access.log pm;|"
        -e "s|^proxy_cache_path /var/lib/nginx/pypi-mirror-cache |proxy_cache_path $dir/cache |"
        -e "s|^proxy_cache_path /var/lib/nginx/pypi-mirror-store-cache |proxy_cache_path $dir/cache |"
        -e "s|^\([[:space:]]*\)server 127.0.0.1:8080;|\1server $store_host;|"
        -e "s|^\([[:space:]]*\)set \$pypi_mirror_store http://pypi_mirror_store/v1/AUTH_pypi/pypi/mirror/web;|\1set \$pypi_mirror_store http://pypi_mirror_store$store_path;|"
        -e "s|^js_import pypi_mirror from /usr/share/pypi-mirror/nginx/pypi-mirror.js;|js_import pypi_mirror from $NGINX_CONTRIB_DIR/pypi-mirror.js;|"
        -e "s|^\([[:space:]]*\)set \$pypi_mirror_miss off;|\1set \$pypi_mirror_miss $miss;|"
    )
    [[ -n "$up" ]] && sed_args+=(-e "s|^\([[:space:]]*\)set \$pypi_mirror_upstream https://pypi.org;|\1set \$pypi_mirror_upstream $up;|")
    [[ -n "$files_up" ]] && sed_args+=(-e "s|^\([[:space:]]*\)set \$pypi_mirror_files_upstream https://files.pythonhosted.org;|\1set \$pypi_mirror_files_upstream $files_up;|")
    sed "${sed_args[@]}" "$conf" >"$dir/pypi-mirror.conf" || return 1
    # The substitutions must have happened, or we would test something else.
    local want
    local -a variant_wants=("root $webroot;" "set \$pypi_mirror_miss $miss;")
    [[ $variant == store ]] && variant_wants=("server $store_host;" "set \$pypi_mirror_store http://pypi_mirror_store$store_path;")
    for want in "listen 127.0.0.1:$port;" "access_log $dir/combined.log combined;" \
        "proxy_cache_path $dir/cache " "${variant_wants[@]}" \
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
    [[ ${NGINX_VARIANT:-} == store ]] || webroot="$(cd "$webroot" && pwd)" || return 1
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

# ---- Checks shared by the suites that run the njs negotiation (nginx.bats
# over a mirror on disk, s3serve.bats over one in a store). They read
# NGINX_URL and compare bodies with the pages of the mirror on disk $M
# (for the store: a mirror made from the same upstream), so a store that
# answers differently from the disk fails them.

# What clients send (pip's and uv's from their sources: pip
# _internal/index/collector.py, uv crates/uv-client/src/registry_client.rs).
PIP_ACCEPT='application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'
UV_ACCEPT='application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01'
FIREFOX_ACCEPT='text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
CHROME_ACCEPT='text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7'
JSON=application/vnd.pypi.simple.v1+json
V1HTML=application/vnd.pypi.simple.v1+html

# get PATH [ACCEPT]: status, Content-Type and body of one request (no
# redirects followed) into STATUS, CTYPE, BODY and LOCATION.
get() {
    local out="$BATS_TEST_TMPDIR/body" hdr="$BATS_TEST_TMPDIR/headers"
    local -a h=()
    [ $# -ge 2 ] && h=(-H "Accept: $2")
    read -r STATUS CTYPE < <(curl -sS -o "$out" -D "$hdr" -w '%{http_code} %{content_type}\n' "${h[@]}" "$NGINX_URL$1")
    # (a file's NUL bytes dropped: the shell cannot hold them; cmp the file)
    BODY=$(tr -d '\000' <"$out")
    LOCATION=$(sed -n 's/^[Ll]ocation: *\(.*\)\r$/\1/p' "$hdr")
}

# expect PATH ACCEPT TYPE: a 200 of that type, whose body is the page
# index-write wrote for that type.
expect() {
    local file
    case $3 in
    text/html) file=index.html ;;
    "$V1HTML") file=index.v1_html ;;
    "$JSON") file=index.v1_json ;;
    esac
    get "$1" "$2"
    [ "$STATUS" = 200 ] || fail "$1 with Accept '$2': status $STATUS, want 200"
    [ "$CTYPE" = "$3" ] || fail "$1 with Accept '$2': Content-Type '$CTYPE', want '$3'"
    cmp -s "$BATS_TEST_TMPDIR/body" "$M/web${1%%\?*}$file" || fail "$1 with Accept '$2': not the body of $file"
    grep -qi '^Vary: Accept' "$BATS_TEST_TMPDIR/headers" || fail "$1: no Vary: Accept"
}

# The Accept headers of pip, uv and browsers, q values, ties, wildcards,
# refusals: what pypi-mirror.js negotiates for /simple/demo-pkg/.
njs_negotiation_cases() {
    local p=/simple/demo-pkg/
    expect $p "$PIP_ACCEPT" "$JSON"
    expect $p "$UV_ACCEPT" "$JSON"
    expect $p "$FIREFOX_ACCEPT" text/html
    expect $p "$CHROME_ACCEPT" text/html
    # q decides, whatever the order (the static variant answers JSON here)
    expect $p "text/html, $JSON;q=0.5" text/html
    expect $p "$JSON;q=0.5, $V1HTML;q=0.6" "$V1HTML"
    expect $p "text/html;q=0.01, $V1HTML;q=0.2, $JSON" "$JSON"
    # ties: PyPI's order (text/html, v1 HTML, v1 JSON)
    expect $p "$JSON, $V1HTML, text/html" text/html
    expect $p "$JSON;q=0.7, $V1HTML;q=0.7" "$V1HTML"
    # wildcards: the most specific range sets an offer's q
    expect $p '*/*' text/html
    expect $p 'application/*' "$V1HTML"
    expect $p "application/*;q=0.5, $JSON" "$JSON"
    expect $p "*/*;q=0.1, text/*;q=0.05, $JSON;q=0.08" "$V1HTML"
    expect $p "*/*, text/html;q=0" "$V1HTML"
    # refused or unknown: text/html, never 406
    expect $p "$JSON;q=0" text/html
    expect $p "$JSON;q=0.000, $V1HTML;q=0" text/html
    expect $p 'text/plain' text/html
    expect $p 'image/png, application/xml;q=0.9' text/html
    expect $p "$JSON;q=bogus, $V1HTML;q=0.1" "$V1HTML"
    expect $p ',,;;, garbage' text/html
    expect $p '' text/html
    get $p
    [ "$STATUS" = 200 ]
    [ "$CTYPE" = text/html ]
    # "latest" is v1; a parameter other than q makes a range match nothing
    expect $p 'application/vnd.pypi.simple.latest+json' "$JSON"
    expect $p "$JSON;charset=utf-8, $V1HTML;q=0.1" "$V1HTML"
    # case does not matter in media types
    expect $p 'APPLICATION/VND.PYPI.SIMPLE.V1+JSON' "$JSON"
    expect /simple/ "$UV_ACCEPT" "$JSON"
    expect /simple/ "$FIREFOX_ACCEPT" text/html
}

# ?format= overrides the Accept header, in any spelling of +.
njs_format_cases() {
    local p=/simple/demo-pkg/
    expect "$p?format=$JSON" "$FIREFOX_ACCEPT" "$JSON"
    expect "$p?format=application/vnd.pypi.simple.v1%2Bjson" text/html "$JSON"
    expect "$p?format=application/vnd.pypi.simple.latest+html" "$PIP_ACCEPT" "$V1HTML"
    expect "$p?format=text/html" "$PIP_ACCEPT" text/html
    # an unknown value is ignored: the header decides
    expect "$p?format=application/json" "$PIP_ACCEPT" "$JSON"
    expect "/simple/?format=$V1HTML" "$PIP_ACCEPT" "$V1HTML"
}

# A non-normalised name gets one 301 to the normalised URL (as on PyPI),
# /pypi/NAME/json likewise; a name that is no project name is a 404; pip
# follows the 301.
njs_name_cases() {
    local from
    for from in /simple/Demo_Pkg/ /simple/DEMO.pkg/ /simple/demo__-.Pkg/ /simple/Demo_Pkg; do
        get "$from" "$PIP_ACCEPT"
        [ "$STATUS" = 301 ] || fail "$from: status $STATUS"
        [ "$LOCATION" = "$NGINX_URL/simple/demo-pkg/" ] || fail "$from: Location $LOCATION"
    done
    get "/simple/Demo_Pkg/?format=$JSON"
    [ "$STATUS" = 301 ]
    [ "$LOCATION" = "$NGINX_URL/simple/demo-pkg/?format=$JSON" ]
    get /pypi/Demo.Pkg/json
    [ "$STATUS" = 301 ]
    [ "$LOCATION" = "$NGINX_URL/pypi/demo-pkg/json" ]
    get /pypi/demo-pkg/json
    [ "$STATUS" = 200 ]
    [ "$CTYPE" = application/json ]
    [ "$(jq -r .info.name <<<"$BODY")" = Demo_Pkg ]
    # the normalised one is served; a name that is no project name is a 404
    expect /simple/demo-pkg/ "$PIP_ACCEPT" "$JSON"
    get '/simple/demo%20pkg/'
    [ "$STATUS" = 404 ]
    get '/simple/Nope/'
    [ "$STATUS" = 301 ]
    [ "$LOCATION" = "$NGINX_URL/simple/nope/" ]
    get '/simple/nope/'
    [ "$STATUS" = 404 ]
    # pip follows it
    run "$PY" -m pip download --no-deps --no-cache-dir --disable-pip-version-check \
        --index-url "$NGINX_URL/simple/" -d "$BATS_TEST_TMPDIR/dl" Demo.PKG==1.0
    assert_success
    ls "$BATS_TEST_TMPDIR"/dl/demo_pkg-1.0*
}
