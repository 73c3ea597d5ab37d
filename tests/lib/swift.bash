# Bats helpers: one private OpenStack Swift with its S3 API per .bats file
# (tests/swift/swift-start), and a bucket in it for the tests.
#
#   load lib/swift
#   setup_file()    { swift_file_start; }
#   teardown_file() { swift_file_stop; }
#
#   swift_file_start   start Swift (a few seconds) and create bucket
#                      S3_BUCKET; exports S3_ENDPOINT, S3_REGION, S3_BUCKET,
#                      AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
#                      AWS_SECRET_ACCESS_KEY (what the tools read), SWIFT_URL
#                      (the Swift API of the account) and SWIFT_DIR
#   swift_file_stop    stop it
#   swift_bucket NAME  create another bucket
#   swift_public BUCKET  let anyone read its objects without credentials
#                      (Swift's read ACL .r:*; listing stays refused), on the
#                      Swift path $SWIFT_URL/BUCKET/KEY
#   swift_keys BUCKET [PREFIX]   the keys stored, one a line, sorted
#   swift_cat BUCKET KEY         an object's bytes on standard output
#   swift_head BUCKET KEY        an object's response headers (lower-cased names)
#   swift_put BUCKET KEY FILE    store FILE's bytes under KEY (behind the
#                                tools' back: a test's own change to the store)
#   swift_sha256s BUCKET [PREFIX]  "KEY SHA256" of each object, sorted
#
# The checks read the store through Swift's own API (tempauth token), not
# S3, so they do not depend on the code under test.

SWIFT_HELPER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SWIFT_START="$SWIFT_HELPER_DIR/../swift/swift-start"
SWIFT_STOP="$SWIFT_HELPER_DIR/../swift/swift-stop"

swift_file_start() {
    export SWIFT_DIR="$BATS_FILE_TMPDIR/swift"
    "$SWIFT_START" "$SWIFT_DIR" || return 1
    set -a
    # shellcheck disable=SC1091
    . "$SWIFT_DIR/env"
    set +a
    export S3_ENDPOINT="$SWIFT_S3_ENDPOINT" S3_REGION="$SWIFT_S3_REGION"
    export AWS_ENDPOINT_URL="$SWIFT_S3_ENDPOINT" AWS_REGION="$SWIFT_S3_REGION"
    export AWS_ACCESS_KEY_ID="$SWIFT_S3_KEY_ID" AWS_SECRET_ACCESS_KEY="$SWIFT_S3_SECRET"
    export S3_BUCKET=pm-mirror
    swift_bucket "$S3_BUCKET"
}

swift_file_stop() { [[ -n "${SWIFT_DIR:-}" ]] && "$SWIFT_STOP" "$SWIFT_DIR"; }

# tempauth's token, fetched once per file (kept in SWIFT_DIR/token).
_swift_token() {
    if [[ ! -s "$SWIFT_DIR/token" ]]; then
        curl -fsS -D - -o /dev/null -H "X-Auth-User: $SWIFT_S3_KEY_ID" \
            -H "X-Auth-Key: $SWIFT_S3_SECRET" "$SWIFT_S3_ENDPOINT/auth/v1.0" |
            tr -d '\r' | sed -n 's/^[Xx]-[Aa]uth-[Tt]oken: //p' >"$SWIFT_DIR/token"
    fi
    cat "$SWIFT_DIR/token"
}

swift_bucket() {
    curl -fsS -o /dev/null -X PUT -H "X-Auth-Token: $(_swift_token)" "$SWIFT_URL/$1"
}

swift_public() {
    curl -fsS -o /dev/null -X POST -H "X-Auth-Token: $(_swift_token)" -H 'X-Container-Read: .r:*' "$SWIFT_URL/$1"
}

swift_keys() {
    local q=""
    [[ -n "${2:-}" ]] && q="&prefix=$(jq -rn --arg p "$2" '$p|@uri')"
    curl -fsS -H "X-Auth-Token: $(_swift_token)" "$SWIFT_URL/$1?format=json$q" | jq -r '.[].name' | LC_ALL=C sort
}

# "KEY SHA256" of every object under PREFIX, sorted, hashing the bytes read
# back (one process, one connection: a curl per object is slow on a busy
# machine).
swift_sha256s() {
    "${PY:-python3}" - "$SWIFT_URL" "$(_swift_token)" "$1" "${2:-}" <<'PYEOF'
import hashlib, http.client, json, sys, urllib.parse
url, token, bucket, prefix = sys.argv[1:5]
u = urllib.parse.urlsplit(url)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
def get(path):
    c.request("GET", path, headers={"X-Auth-Token": token})
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit("GET %s: %d" % (path, r.status))
    return body
base = u.path + "/" + urllib.parse.quote(bucket)
names, marker = [], ""
while True:
    page = json.loads(get(base + "?format=json&prefix=%s&marker=%s" % (urllib.parse.quote(prefix), urllib.parse.quote(marker))))
    if not page:
        break
    names += [o["name"] for o in page]
    marker = page[-1]["name"]
for n in sorted(names, key=lambda s: s.encode()):
    print(n, hashlib.sha256(get(base + "/" + urllib.parse.quote(n))).hexdigest())
PYEOF
}

_swift_path() { jq -rn --arg k "$1" '$k|@uri|gsub("%2F";"/")'; }

swift_cat() { curl -fsS -H "X-Auth-Token: $(_swift_token)" "$SWIFT_URL/$1/$(_swift_path "$2")"; }

swift_put() {
    curl -fsS -o /dev/null -X PUT -H "X-Auth-Token: $(_swift_token)" --data-binary "@$3" \
        "$SWIFT_URL/$1/$(_swift_path "$2")"
}

swift_head() {
    curl -fsS -I -H "X-Auth-Token: $(_swift_token)" "$SWIFT_URL/$1/$(_swift_path "$2")" | tr -d '\r' |
        sed 's/^\([^:]*\):/\L\1:/'
}

# Writes objects through Swift's API: "KEY" lines on stdin, each gets its own
# line as body (one process, one connection).
swift_put_many() {
    "$PY" -c '
import http.client, sys, urllib.parse
url, token, bucket = sys.argv[1:4]
u = urllib.parse.urlsplit(url)
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
for line in sys.stdin:
    key = line.rstrip("\n")
    c.request("PUT", u.path + "/" + bucket + "/" + urllib.parse.quote(key), body=(key + "\n").encode(),
              headers={"X-Auth-Token": token})
    r = c.getresponse()
    r.read()
    if r.status not in (200, 201):
        sys.exit("PUT %s: %d" % (key, r.status))
' "$SWIFT_URL" "$(_swift_token)" "$1"
}
