#!/usr/bin/env bats
# 24NN: pypi-mirror(1) with the mirror in an S3 store (bandersnatch's
# `storage-backend = s3`), end to end against a real OpenStack Swift with
# its S3 API (tests/swift/swift-start, one for the whole file) and the PyPI
# emulator. The state (status, failed list, journals...) lives in the bucket
# next to the mirror; local disk keeps only the lock, the logs and scratch.
# What landed is read back through Swift's own API (tests/lib/swift.bash),
# and compared with a filesystem mirror made by the same wrapper from the
# same upstream.

load lib/common
load lib/swift

setup_file() {
	emu_file_start --projects 6 --seed 24
	swift_file_start
}

teardown_file() {
	swift_file_stop
	common_teardown_file
}

setup() {
	tool_env
	# The credentials come from the configuration's [s3] section only.
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL AWS_REGION
	T="$BATS_TEST_TMPDIR"
	# Each test its own prefix in the one bucket.
	P="r${BATS_TEST_NUMBER}"
	CONF="$T/s3.conf"
	LOGDIR="$T/log"
	s3_config "$CONF" "$T/local"
}

teardown() {
	bg_kill
	common_teardown
	admin clear-faults
	admin purge-policy policy=accept
	local n
	for n in ${STALED:-}; do admin unstale name="$n"; done
	return 0
}

# s3_config FILE LOCAL-DIR [PREFIX]: the mirror at PREFIX (default $P) of
# the bucket, bandersnatch's form; LOCAL-DIR holds the lock and scratch.
s3_config() {
	cat >"$1" <<-EOF
	[mirror]
	directory = /$S3_BUCKET/${3:-$P}
	storage-backend = s3
	master = $EMU_URL
	allow-non-https = true
	workers = 2

	[pypi-mirror]
	log-dir = $LOGDIR
	local-dir = $2
	stale-backoff = 0

	[s3]
	endpoint_url = $SWIFT_S3_ENDPOINT
	region_name = $SWIFT_S3_REGION
	aws_access_key_id = $SWIFT_S3_KEY_ID
	aws_secret_access_key = $SWIFT_S3_SECRET
	EOF
}

# A filesystem mirror in $T/fs by the same wrapper from the same upstream.
fs_sync() {
	write_config "$T/fs.conf" "$T/fs" "$T/fslog"
	run pypi-mirror -c "$T/fs.conf" mirror
	assert_success
}

# "KEY SHA256" of what is served (web/), but the run's time stamp.
store_web() { swift_sha256s "$S3_BUCKET" "$P/web/" | grep -v "^$P/web/last-modified "; }
fs_web() {
	(cd "$T/fs" && find web -type f ! -name last-modified -printf '%P\n' | LC_ALL=C sort | while read -r f; do
		echo "$P/web/$f $(sha256sum <"web/$f" | cut -d' ' -f1)"
	done)
}

# The store serves what a clean filesystem sync of the same upstream does.
assert_store_equals_fs() {
	fs_sync
	diff <(fs_web) <(store_web)
}

# The status object (0 when there is none).
store_status() { swift_cat "$S3_BUCKET" "$P/status" 2>/dev/null || echo 0; }

file_gets() { emu_stats | jq '[.requests | to_entries[] | select(.key | startswith("GET /packages/")) | .value] | add // 0'; }

stale() {
	admin stale name="$1"
	STALED="${STALED:-} $1"
}

# The projects the stored root index lists, normalized, sorted.
root_names() {
	swift_cat "$S3_BUCKET" "$P/web/simple/index.v1_json" | jq -r '.projects[].name | ascii_downcase | gsub("[-_.]+"; "-")' |
		LC_ALL=C sort
}
# The projects with pages in the store, sorted.
page_dirs() { swift_keys "$S3_BUCKET" "$P/web/simple/" | sed -n "s|^$P/web/simple/\([^/]*\)/.*|\1|p" | LC_ALL=C sort -u; }
# The package keys NAME's stored JSON page links, sorted.
page_keys() {
	local raw
	raw=$(swift_cat "$S3_BUCKET" "$P/web/simple/$1/index.v1_json" | jq -r '.files[].url | sub("^\\.\\./\\.\\./"; "")')
	[ -n "$raw" ] || return 0
	printf '%b\n' "${raw//%/\\x}" | sed "s|^|$P/web/|" | LC_ALL=C sort
}
# The package files the store holds (not the .metadata companions), sorted.
store_packages() { swift_keys "$S3_BUCKET" "$P/web/packages/" | grep -v '\.metadata$' || true; }
lines() { printf '%s\n' "$@" | sed '/^$/d' | LC_ALL=C sort; }
# An object's Swift timestamp (changes with every PUT of it).
stamp() { swift_head "$S3_BUCKET" "$1" | sed -n 's/^x-timestamp: //p'; }

# Whether the demand state on stdin has NAME's entry matching the jq COND.
demand_has() { jq -s -e --arg n "$1" "any(.[]; .type == \"demand\" and .name == \$n and ($2))" >/dev/null; }

# A sleep without a process.
nap() { read -r -t "$1" -u "$NAPFD" || true; }

# kill_on PATTERN|random: a background run, killed (its whole process
# group) as soon as its log shows PATTERN, or after a random 0.3-2.3 s;
# a run that ends first is just reaped.
kill_on() {
	local deadline=$((SECONDS + 120))
	pm_background mirror
	if [ "$1" = random ]; then
		nap "$((RANDOM % 2)).$(printf '%03d' $((300 + RANDOM % 700)))"
	else
		while kill -0 "$BG_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
			grep -qF -- "$1" "$T/bg.out" 2>/dev/null && break
			nap 0.005
		done
	fi
	kill -KILL -- "-$BG_PID" 2>/dev/null || true
	wait "$BG_PID" 2>/dev/null || true
	BG_PID=
}

@test "2401 pypi-mirror mirror into Swift: every file and page stored, state in the bucket, only the lock on local disk; an idle run fetches nothing" {
	run pm mirror
	assert_success
	[[ "$output" != *"$SWIFT_S3_SECRET"* ]]
	assert_equal "$(store_status)" "$(upstream_serial)"
	# The state objects, under the names layout.h gives them on disk.
	keys=$(swift_keys "$S3_BUCKET" "$P/")
	for k in status generation pypi-mirror.synced-serial pypi-mirror.last-run web/last-modified web/simple/index.v1_json; do
		grep -qxF "$P/$k" <<<"$keys" || fail "no $P/$k in the store"
	done
	assert_equal "$(swift_cat "$S3_BUCKET" "$P/generation")" 5
	# No journal left, no failed list.
	run grep -E "^$P/(\.|pypi-mirror\.failed)" <<<"$keys"
	assert_failure
	# Local disk: the lock only (the work directory went with the clean run).
	run find "$T/local" -type f
	assert_output "$T/local/.lock"
	assert_store_equals_fs

	# idle: nothing fetched, status stays, `status` reads the bucket
	before=$(store_status)
	admin reset-stats
	run pm mirror
	assert_success
	assert_output --partial "projects=0 files=0 bytes=0 deleted=0 stale=0 purged=0 failed=0 serial=$before->$before"
	[ "$(file_gets)" -eq 0 ]
	assert_equal "$(store_status)" "$before"
	run pm status
	assert_success
	assert_output --partial "mirror serial: $before"
	assert_output --partial "lag: 0"
	assert_output --partial "failed projects: none"
}

@test "2402 pypi-mirror mirror into Swift: a new release, a removed file, a removed project and a yank reach the store as they reach a filesystem" {
	run pm mirror
	assert_success
	name=$(simple_root | jq -r '.projects[0].name')
	victim=$(curl -fsS "$EMU_URL/pypi/$name/json?fresh=$RANDOM" | jq -r '[.releases[][]][0].url | sub("^[a-z]+://[^/]+/"; "")')
	gone=$(simple_root | jq -r '.projects[1].name')
	yanked=$(simple_root | jq -r '.projects[2].name')
	yv=$(curl -fsS "$EMU_URL/pypi/$yanked/json?fresh=$RANDOM" | jq -r '.releases | keys[0]')
	newp=$(simple_root | jq -r '.projects[3].name')
	swift_keys "$S3_BUCKET" "$P/web/$victim" | grep -qxF "$P/web/$victim"
	admin new-release name="$newp" version=24.2
	admin remove-file name="$name" filename="${victim##*/}"
	admin remove-project name="$gone"
	admin yank name="$yanked" version="$yv" reason=broken
	run pm mirror
	assert_success
	assert_output --regexp 'deleted=[1-9][0-9]* '
	assert_equal "$(store_status)" "$(upstream_serial)"
	run swift_keys "$S3_BUCKET" "$P/web/$victim"
	assert_output ""
	run swift_keys "$S3_BUCKET" "$P/web/simple/$(norm "$gone")/"
	assert_output ""
	swift_cat "$S3_BUCKET" "$P/web/simple/$(norm "$yanked")/index.v1_json" | jq -e '[.files[] | select(.yanked == "broken")] | length > 0'
	swift_cat "$S3_BUCKET" "$P/web/simple/$(norm "$newp")/index.html" | grep -q -- '-24.2'
	swift_cat "$S3_BUCKET" "$P/web/simple/index.v1_json" | jq -e --arg n "$gone" 'all(.projects[]; .name != $n)'
	assert_store_equals_fs
}

@test "2403 pypi-mirror: a second host with only the configuration and the bucket continues: the failed list is retried, nothing else fetched again, status advances" {
	run pm mirror
	assert_success
	name=$(simple_root | jq -r '.projects[-2].name')
	new_release "$name" 24.3
	admin fault path="/$TAR" kind=corrupt
	run pm mirror
	assert_failure 1
	# Status waits short of the failed project's change; the failed list
	# is an object.
	[ "$(store_status)" -lt "$(upstream_serial)" ]
	swift_cat "$S3_BUCKET" "$P/pypi-mirror.failed" | jq -e --arg n "$(norm "$name")" 'select(.name == $n)'
	run find "$T/local" -type f
	assert_output "$T/local/.lock"

	# Host B: the same configuration, an empty local directory.
	admin clear-faults
	admin reset-stats
	s3_config "$T/b.conf" "$T/b"
	run pypi-mirror -c "$T/b.conf" status
	assert_success
	assert_output --partial "mirror serial: $(store_status)"
	assert_output --partial "failed projects: 1: $(norm "$name")"
	run pypi-mirror -c "$T/b.conf" mirror
	assert_success
	assert_output --partial "Retrying 1 projects that failed before"
	# Only what the failed project still missed is fetched.
	[ "$(file_gets)" -ge 1 ]
	[ "$(file_gets)" -le 2 ]
	assert_equal "$(store_status)" "$(upstream_serial)"
	run swift_keys "$S3_BUCKET" "$P/pypi-mirror.failed"
	assert_output ""
	assert_store_equals_fs
}

@test "2404 pypi-mirror: SIGKILL at random moments of uploads and page writes; status never ahead; one clean run matches a clean sync, no stray object" {
	run pm mirror
	assert_success
	s0=$(store_status)
	# Upstream moves: every killed run has uploads, pages and deletions to do.
	mapfile -t names < <(simple_root | jq -r '.projects[].name')
	for n in "${names[@]:0:4}"; do admin new-release name="$n" version=24.4 pad=400000; done
	victim=$(curl -fsS "$EMU_URL/pypi/${names[4]}/json?fresh=$RANDOM" | jq -r '[.releases[][]][0].url | sub("^[a-z]+://[^/]+/"; "")')
	admin remove-file name="${names[4]}" filename="${victim##*/}"
	target=$(upstream_serial)
	exec {NAPFD}<> <(:)
	# Killed as an upload is in flight, after a page, during the deletions,
	# as the root and state are written, and at a random moment.
	for point in "Uploading: " "Synced " "Deleting file: " "Updated the root index" "random"; do
		kill_on "$point"
		st=$(store_status)
		# Never ahead: the old serial, or the target with everything stored.
		if [ "$st" != "$s0" ]; then
			assert_equal "$st" "$target"
			[ -e "$T/fs/status" ] || fs_sync
			diff <(fs_web) <(store_web)
		fi
	done
	run pm mirror
	assert_success
	assert_equal "$(store_status)" "$target"
	# No journal, no stray object: the served keys are a clean sync's.
	run swift_keys "$S3_BUCKET" "$P/."
	assert_output ""
	assert_store_equals_fs
	# What the killed runs left locally was swept by the clean one.
	run find "$T/local" -type f
	assert_output "$T/local/.lock"
}

@test "2405 pypi-mirror: a stale CDN answer heals in the same run on a store" {
	run pm mirror
	assert_success
	name=$(simple_root | jq -r '.projects[-1].name')
	stale "$name"
	admin new-release name="$name" version=24.5
	run pm mirror
	assert_success
	assert_output --partial "Purging $name"
	assert_output --partial 'stale=1 purged=1 failed=0'
	assert_equal "$(store_status)" "$(upstream_serial)"
	swift_cat "$S3_BUCKET" "$P/web/simple/$(norm "$name")/index.html" | grep -q -- '-24.5'
}

@test "2406 mirror-config: storage-backend = s3 gives the tools s3://BUCKET/PREFIX and a local directory; json, [closure] and [demand] too; a diff file is refused" {
	run mirror-config -c "$CONF"
	assert_success
	assert_line "PM_DIRECTORY='s3://$S3_BUCKET/$P'"
	assert_line "PM_LOCAL_DIR='$T/local'"
	assert_line "PM_LOCK_FILE='$T/local/.lock'"
	# Without local-dir: one directory per mirror under TMPDIR.
	sed -i '/^local-dir/d' "$CONF"
	TMPDIR="$T/tmp" run mirror-config -c "$CONF"
	assert_success
	assert_line "PM_LOCAL_DIR='$T/tmp/pypi-mirror.$S3_BUCKET.$P'"
	# json = true, [closure] and [demand] work on a bucket: index-write
	# consumes the spool under the local directory, the closure's metadata
	# cache is there too.
	local lo="$T/tmp/pypi-mirror.$S3_BUCKET.$P"
	printf 'demo-pkg\n' >"$T/req.txt"
	: >"$T/access.log"
	sed 's/^workers = 2/workers = 2\njson = true/' "$CONF" >"$T/more.conf"
	printf '[closure]\nrequirements = %s\nenvironments = cp312-manylinux-x86_64\n[demand]\nlogs = %s\n' \
		"$T/req.txt" "$T/access.log" >>"$T/more.conf"
	TMPDIR="$T/tmp" run --separate-stderr mirror-config -c "$T/more.conf"
	assert_success
	eval "$output"
	assert_equal "$PM_JSON$PM_CLOSURE$PM_DEMAND" 111
	[[ " ${PM_ARGS_INDEX_WRITE[*]} " == *" --json --local-dir $lo "* ]] || fail "${PM_ARGS_INDEX_WRITE[*]}"
	[[ " ${PM_ARGS_PKG_CLOSURE[*]} " == *" --cache $lo/.closure-cache "* ]] || fail "${PM_ARGS_PKG_CLOSURE[*]}"
	# A diff file lists local paths of what a run wrote: refused.
	sed -i 's/^workers = 2/workers = 2\ndiff-file = \/tmp\/changed/' "$CONF"
	run mirror-config -c "$CONF"
	assert_failure 2
	assert_output --partial "diff-file: is not supported with storage-backend = s3"
	sed -i '/^diff-file/d; /^endpoint_url/d' "$CONF"
	run mirror-config -c "$CONF"
	assert_failure 2
	assert_output --partial "no S3 endpoint"
	[[ "$output" != *"$SWIFT_S3_SECRET"* ]]
}

@test "2407 pypi-mirror json = true into Swift: the JSON API copies are upstream's document as application/json; an unchanged copy is not stored again; a removed project's go; the spool is consumed" {
	sed -i 's/^workers = 2/workers = 2\njson = true/' "$CONF"
	run pm mirror
	assert_success
	mapfile -t names < <(simple_root | jq -r '.projects[].name')
	local n k key
	for n in "${names[@]}"; do
		k=$(norm "$n")
		curl -fsS "$EMU_URL/pypi/$k/json?fresh=$RANDOM" >"$T/up.json"
		for key in "$P/web/json/$k" "$P/web/pypi/$k/json"; do
			cmp "$T/up.json" <(swift_cat "$S3_BUCKET" "$key") || fail "$key is not upstream's document"
			swift_head "$S3_BUCKET" "$key" | grep -qx 'content-type: application/json' ||
				fail "$key: $(swift_head "$S3_BUCKET" "$key" | grep content-type)"
		done
	done
	run find "$T/local" -type f
	assert_output "$T/local/.lock"

	# The project again, unchanged upstream: its page is as stored, so the
	# copies are looked up and only the one changed behind our back is
	# stored again.
	k=$(norm "${names[0]}")
	local short_before api_before
	short_before=$(stamp "$P/web/json/$k")
	api_before=$(stamp "$P/web/pypi/$k/json")
	printf '{}' >"$T/junk"
	swift_put "$S3_BUCKET" "$P/web/pypi/$k/json" "$T/junk"
	run pm sync "$k"
	assert_success
	assert_output --partial "Synced $k "
	assert_equal "$(stamp "$P/web/json/$k")" "$short_before"
	[ "$(stamp "$P/web/pypi/$k/json")" != "$api_before" ]
	curl -fsS "$EMU_URL/pypi/$k/json?fresh=$RANDOM" >"$T/up.json"
	cmp "$T/up.json" <(swift_cat "$S3_BUCKET" "$P/web/json/$k")
	cmp "$T/up.json" <(swift_cat "$S3_BUCKET" "$P/web/pypi/$k/json")

	# index-write alone: a spooled document under --local-dir is consumed
	# once stored, one elsewhere is left where it is.
	k=$(norm "${names[1]}")
	mkdir -p "$T/local/.spool" "$T/elsewhere"
	for d in "$T/local/.spool" "$T/elsewhere"; do
		printf '{"type":"project","name":"%s","serial":1}\n' "$k" |
			pkg-resolve -u "$EMU_URL" --allow-non-https --save-json "$d" |
			index-write -d "s3://$S3_BUCKET/$P" --config "$CONF" --json --local-dir "$T/local" --no-root >"$T/iw.out"
		jq -s -e --arg n "$k" 'any(.[]; .type == "synced" and .name == $n)' "$T/iw.out" >/dev/null
	done
	run find "$T/local/.spool" -type f
	assert_output ""
	run find "$T/elsewhere" -type f -name "$k.*.json"
	assert_output --regexp "^$T/elsewhere/$k\.[0-9]+\.json$"

	# A project removed upstream: both copies go with its pages.
	admin remove-project name="${names[2]}"
	k=$(norm "${names[2]}")
	swift_keys "$S3_BUCKET" "$P/web/json/$k" | grep -qxF "$P/web/json/$k"
	run pm mirror
	assert_success
	run swift_keys "$S3_BUCKET" "$P/web/json/$k"
	assert_output ""
	run swift_keys "$S3_BUCKET" "$P/web/pypi/$k/"
	assert_output ""
	run swift_keys "$S3_BUCKET" "$P/web/simple/$k/"
	assert_output ""
}

@test "2408 pypi-mirror: a filtered mirror in Swift holds only the allowed projects; a shrunk allowlist prunes the dropped one's keys (a full pass), within max-deletions" {
	mapfile -t names < <(simple_root | jq -r '.projects[].name')
	local a b
	a=$(norm "${names[0]}") b=$(norm "${names[1]}")
	cp "$CONF" "$T/base.conf"
	{ plugins_section allowlist_project; allowlist_section "${names[0]}" "${names[1]}"; } >>"$CONF"
	run pm mirror
	assert_success
	assert_equal "$(root_names)" "$(lines "$a" "$b")"
	assert_equal "$(page_dirs)" "$(lines "$a" "$b")"
	# Every file stored is one an allowed project's page links, and the
	# other way round.
	assert_equal "$(store_packages)" "$(lines "$(page_keys "$a")" "$(page_keys "$b")")"
	swift_keys "$S3_BUCKET" "$P/pypi-mirror.filters" | grep -qxF "$P/pypi-mirror.filters"
	local b_keys a_keys
	b_keys=$(page_keys "$b")
	a_keys=$(page_keys "$a")
	[ "$(wc -l <<<"$b_keys")" -ge 2 ] || fail "$b has only: $b_keys"

	# The allowlist loses b; the deletion cap of 1 holds it all back.
	{ cat "$T/base.conf"; plugins_section allowlist_project; allowlist_section "${names[0]}"; } >"$CONF"
	sed -i 's/^stale-backoff = 0/&\nmax-deletions = 1/' "$CONF"
	run pm mirror
	assert_failure 1
	assert_output --partial 'Full pass: the filter configuration changed'
	assert_output --partial 'deletion cap of 1 files reached'
	assert_equal "$(store_packages)" "$(lines "$a_keys" "$b_keys")"
	assert_equal "$(root_names)" "$(lines "$a" "$b")"

	# A cap that allows it: the project that failed is retried under the
	# same rules, and b's pages, files and root entry go; a stays.
	sed -i 's/^max-deletions = 1$/max-deletions = 1000/' "$CONF"
	run pm mirror
	assert_success
	assert_output --partial "Removed $b "
	assert_equal "$(root_names)" "$a"
	assert_equal "$(page_dirs)" "$a"
	assert_equal "$(store_packages)" "$a_keys"
	run swift_keys "$S3_BUCKET" "$P/.pending-deletions/"
	assert_output ""
	# The same rules again: an ordinary run, nothing pruned.
	run pm mirror
	assert_success
	refute_output --partial 'Full pass'
	refute_output --partial 'Deleting file'
}

@test "2409 pypi-mirror [closure] into Swift: the bucket holds the closure; pkg-closure -d s3:// prunes what the bucket holds and the closure no longer needs" {
	admin new-project name=s3c-dep
	admin new-project name=s3c-app requires=s3c-dep
	admin new-project name=s3c-solo
	printf 's3c-app\ns3c-solo\n' >"$T/req.txt"
	printf '[closure]\nrequirements = %s\nenvironments = cp312-manylinux-x86_64\n' "$T/req.txt" >>"$CONF"
	run pm mirror
	assert_success
	assert_equal "$(root_names)" "$(lines s3c-app s3c-dep s3c-solo)"
	assert_equal "$(page_dirs)" "$(lines s3c-app s3c-dep s3c-solo)"
	assert_equal "$(store_packages)" "$(lines "$(page_keys s3c-app)" "$(page_keys s3c-dep)" "$(page_keys s3c-solo)")"
	# The metadata cache is local scratch, under local-dir.
	[ -n "$(find "$T/local/.closure-cache" -type f)" ] || fail "no metadata cached under $T/local/.closure-cache"
	[ ! -e "s3:" ] || fail "a directory named s3: in $PWD"
	local solo_keys
	solo_keys=$(page_keys s3c-solo)

	# pkg-closure alone reads what the bucket holds (its [s3] from --config):
	# s3c-solo left the requirements, so it is a removal record.
	printf 's3c-app\n' >"$T/req.txt"
	run --separate-stderr pkg-closure -u "$EMU_URL" --allow-non-https -r "$T/req.txt" -e cp312-manylinux-x86_64 \
		-d "s3://$S3_BUCKET/$P" --config "$CONF" </dev/null
	assert_success
	assert_equal "$(jq -c 'select(.type == "removal") | .name' <<<"$output")" '"s3c-solo"'
	assert_equal "$(jq -r 'select(.type == "project") | .name' <<<"$output" | LC_ALL=C sort)" "$(lines s3c-app s3c-dep)"
	[[ "$stderr" != *"$SWIFT_S3_SECRET"* ]]

	# The wrapper: s3c-solo's pages, files and root entry leave the bucket.
	run pm mirror
	assert_success
	assert_output --partial 'no longer in the requirement closure'
	assert_equal "$(root_names)" "$(lines s3c-app s3c-dep)"
	assert_equal "$(page_dirs)" "$(lines s3c-app s3c-dep)"
	local k
	for k in $solo_keys; do
		run swift_keys "$S3_BUCKET" "$k"
		assert_output ""
	done
	assert_equal "$(store_packages)" "$(lines "$(page_keys s3c-app)" "$(page_keys s3c-dep)")"
}

@test "2410 pypi-mirror [demand] into Swift: what clients asked for is mirrored; the demand state is an object, so a second host goes on counting" {
	mapfile -t names < <(simple_root | jq -r '.projects[].name')
	local a b when
	a=$(norm "${names[0]}") b=$(norm "${names[1]}")
	when=$(LC_ALL=C date -u +'%d/%b/%Y:%H:%M:%S +0000')
	printf '127.0.0.1 - - [%s] "GET /simple/%s/ HTTP/1.1" 404 0 "-" "pip/24.0"\n' "$when" "$a" >"$T/access.log"
	printf '[demand]\nlogs = %s\n' "$T/access.log" >>"$CONF"
	run pm mirror
	assert_success
	assert_equal "$(root_names)" "$a"
	assert_equal "$(page_dirs)" "$a"
	swift_cat "$S3_BUCKET" "$P/pypi-mirror.demand" | demand_has "$a" '.state == "wanted" and .count == 1'
	run find "$T/local" -type f
	assert_output "$T/local/.lock"

	# Host B: the configuration and the bucket. The log gains a request for
	# b and another for a: counted once each, on top of what the bucket's
	# state had.
	printf '127.0.0.1 - - [%s] "GET /simple/%s/ HTTP/1.1" 404 0 "-" "pip/24.0"\n' "$when" "$b" "$when" "$a" >>"$T/access.log"
	s3_config "$T/b.conf" "$T/b"
	printf '[demand]\nlogs = %s\n' "$T/access.log" >>"$T/b.conf"
	run pypi-mirror -c "$T/b.conf" mirror
	assert_success
	assert_equal "$(root_names)" "$(lines "$a" "$b")"
	swift_cat "$S3_BUCKET" "$P/pypi-mirror.demand" | demand_has "$a" '.count == 2'
	swift_cat "$S3_BUCKET" "$P/pypi-mirror.demand" | demand_has "$b" '.state == "wanted"'
	run find "$T/b" -type f
	assert_output "$T/b/.lock"
}

@test "2411 pypi-mirror verify on a bucket: a missing and a corrupt object named (exit 6), --repair stores them again, status untouched" {
	run pm mirror
	assert_success
	before=$(store_status)
	mapfile -t objs < <(store_packages)
	(( ${#objs[@]} >= 2 ))
	gone=${objs[0]} bad=${objs[1]}
	# Behind the tools' back: one object deleted, one replaced by other bytes
	# of the same size.
	curl -fsS -o /dev/null -X DELETE -H "X-Auth-Token: $(_swift_token)" "$SWIFT_URL/$S3_BUCKET/$gone"
	swift_cat "$S3_BUCKET" "$bad" >"$T/orig"
	head -c "$(stat -c %s "$T/orig")" /dev/zero >"$T/zeros"
	swift_put "$S3_BUCKET" "$bad" "$T/zeros"
	run pm verify
	assert_failure 6
	assert_output --partial "${gone##*/}"
	assert_output --partial "${bad##*/}"
	[[ "$output" != *"$SWIFT_S3_SECRET"* ]]
	run pm verify --repair
	assert_success
	assert_output --regexp 'Repairing [12] damaged projects'
	swift_cat "$S3_BUCKET" "$bad" | cmp - "$T/orig"
	swift_keys "$S3_BUCKET" "$gone" | grep -qxF "$gone" || fail "$gone was not stored again"
	assert_equal "$(store_status)" "$before"
	assert_store_equals_fs
}

@test "2412 pypi-mirror: an initial sync into Swift killed once pages are out leaves its unlisted batch (never a status ahead); the next run expands it and completes, no journal or stray object left" {
	exec {NAPFD}<> <(:)
	kill_on "Synced "
	assert_equal "$(store_status)" 0
	# The projects new to the store were journaled together, not one by one.
	run swift_keys "$S3_BUCKET" "$P/.unlisted/"
	[[ "$output" == *"$P/.unlisted/+"* ]] || fail "no unlisted batch after the killed run: $output"
	run pm mirror
	assert_success
	assert_output --partial "Expanding the unlisted batch"
	assert_equal "$(store_status)" "$(upstream_serial)"
	run swift_keys "$S3_BUCKET" "$P/."
	assert_output ""
	assert_store_equals_fs
}
