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

@test "2406 mirror-config: storage-backend = s3 gives the tools s3://BUCKET/PREFIX and a local directory; what a bucket does not support is refused" {
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
	sed -i 's/^workers = 2/workers = 2\njson = true/' "$CONF"
	run mirror-config -c "$CONF"
	assert_failure 2
	assert_output --partial "not supported with storage-backend = s3"
	sed -i '/^json = true/d; /^endpoint_url/d' "$CONF"
	run mirror-config -c "$CONF"
	assert_failure 2
	assert_output --partial "no S3 endpoint"
	[[ "$output" != *"$SWIFT_S3_SECRET"* ]]
}
