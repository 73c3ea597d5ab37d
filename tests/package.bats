#!/usr/bin/env bats
# The Debian package (debian/, "make deb"): lintian clean, installed with
# dpkg -i on this machine, the installed pypi-mirror run as the package's
# system user against the PyPI emulator, every man page found by man -w,
# then removed and purged with nothing left behind.
#
# It installs into the real system, so it needs root (it skips otherwise),
# refuses to run over a pypi-mirror package already installed, and its
# teardown purges the package and deletes the user it created, even when a
# test failed. "make deb" rebuilds only when a source changed, so the second
# (sanitized) pass of make check reuses the package the first one built.

load lib/common

TOP="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
DEB="$TOP/build-deb/pypi-mirror.deb"

setup_file() {
	[ "$(id -u)" = 0 ] || skip "installs a Debian package into the system: needs root"
	if dpkg-query -W -f='${Status}' pypi-mirror 2>/dev/null | grep -q 'installed'; then
		echo "a pypi-mirror package is already installed here; this test would remove it" >&2
		return 1
	fi
	# What teardown_file must undo: only what this file did.
	if getent passwd pypi-mirror >/dev/null; then
		echo 0 >"$BATS_FILE_TMPDIR/made-user"
	else
		echo 1 >"$BATS_FILE_TMPDIR/made-user"
	fi
	make -C "$TOP" --no-print-directory deb >"$BATS_FILE_TMPDIR/make-deb.log" 2>&1 || {
		tail -40 "$BATS_FILE_TMPDIR/make-deb.log" >&2
		return 1
	}
	emu_file_start --projects 6 --seed 3
}

teardown_file() {
	common_teardown_file
	[ "$(id -u)" = 0 ] || return 0
	if dpkg-query -W -f='${Status}' pypi-mirror 2>/dev/null | grep -q 'installed\|config-files'; then
		dpkg -P pypi-mirror >/dev/null 2>&1
	fi
	if [ "$(cat "$BATS_FILE_TMPDIR/made-user" 2>/dev/null)" = 1 ] && getent passwd pypi-mirror >/dev/null; then
		userdel pypi-mirror 2>/dev/null
		getent group pypi-mirror >/dev/null && groupdel pypi-mirror 2>/dev/null
	fi
	local rundir
	rundir=$(cat "$BATS_FILE_TMPDIR/rundir" 2>/dev/null)
	[[ $rundir == /tmp/pypi-mirror-package-test.* ]] && rm -rf "$rundir"
	return 0
}

installed() { dpkg-query -W -f='${Status}' pypi-mirror 2>/dev/null; }

@test "1501 make deb: a pypi-mirror package that lintian passes without error or warning" {
	[ -f "$DEB" ]
	run dpkg-deb -f "$DEB" Package Version Architecture
	assert_success
	assert_line "Package: pypi-mirror"
	assert_line "Version: $(sed -n 's/^VERSION *:= *//p' "$TOP/Makefile")"
	run lintian --fail-on error,warning "$DEB"
	assert_success
	refute_output --regexp '^[EW]: '
}

@test "1502 dpkg -i: tools, wrapper, conffile, units not enabled, logrotate, nginx examples, system user" {
	run dpkg -i "$DEB"
	assert_success
	[ "$(installed)" = "install ok installed" ]
	local t
	for t in pypi-mirror $(cd "$TOP/tools" && ls -d */ | tr -d / | grep -vx lib); do
		[ -x "/usr/bin/$t" ] || fail "/usr/bin/$t is not there"
	done
	dpkg-query -W -f='${Conffiles}\n' pypi-mirror | grep -q '^ /etc/pypi-mirror.conf '
	cmp /etc/pypi-mirror.conf "$TOP/contrib/pypi-mirror.conf.example"
	grep -qx 'ExecStart=/usr/bin/pypi-mirror -q -c /etc/pypi-mirror.conf mirror' /lib/systemd/system/pypi-mirror.service
	[ -f /lib/systemd/system/pypi-mirror.timer ]
	# installed, not enabled
	[ -z "$(find /etc/systemd/system -name 'pypi-mirror.*' 2>/dev/null)" ]
	[ -f /etc/logrotate.d/pypi-mirror ]
	local ex=/usr/share/doc/pypi-mirror/examples
	cmp "$ex/nginx/pypi-mirror.conf" "$TOP/contrib/nginx/pypi-mirror.conf"
	cmp "$ex/nginx/pypi-mirror-njs.conf" "$TOP/contrib/nginx/pypi-mirror-njs.conf"
	cmp /usr/share/pypi-mirror/nginx/pypi-mirror.js "$TOP/contrib/nginx/pypi-mirror.js"
	# the user the units name, a system one, owning the log directory
	grep -qx 'User=pypi-mirror' /lib/systemd/system/pypi-mirror.service
	local uid
	uid=$(id -u pypi-mirror)
	[ "$uid" -lt 1000 ]
	[ "$(stat -c %U:%G /var/log/pypi-mirror)" = pypi-mirror:pypi-mirror ]
	# the installed njs example passes nginx -t with the installed script
	local d="$BATS_TEST_TMPDIR/ngx"
	mkdir -p "$d"
	sed -e "s|listen 80;|listen 127.0.0.1:1;|" -e "s|/var/log/nginx/|$d/|" \
		-e "s|/var/lib/nginx/pypi-mirror-cache|$d/cache|" "$ex/nginx/pypi-mirror-njs.conf" >"$d/site.conf"
	printf 'load_module /usr/lib/nginx/modules/ngx_http_js_module.so;\npid %s/pid;\nevents {}\nhttp { access_log off; include %s/site.conf; }\n' \
		"$d" "$d" >"$d/nginx.conf"
	run nginx -t -p "$d" -c "$d/nginx.conf" -e "$d/error.log"
	assert_success
}

@test "1503 the installed pypi-mirror, run as the package's user, mirrors the emulator with the installed tools" {
	[ "$(installed)" = "install ok installed" ]
	# A directory the user can reach (the test's own temp dir is root's).
	RUNDIR=$(mktemp -d /tmp/pypi-mirror-package-test.XXXXXX)
	echo "$RUNDIR" >"$BATS_FILE_TMPDIR/rundir"
	chmod 755 "$RUNDIR"
	install -d -o pypi-mirror -g pypi-mirror "$RUNDIR/mirror" "$RUNDIR/log"
	write_config "$RUNDIR/pypi-mirror.conf" "$RUNDIR/mirror" "$RUNDIR/log"
	# Only /usr/bin: not the build tree's tools (tests/run puts them first).
	run runuser -u pypi-mirror -- env -i PATH=/usr/bin:/bin HOME=/nonexistent \
		/usr/bin/pypi-mirror -c "$RUNDIR/pypi-mirror.conf" mirror
	assert_success
	assert_output --partial 'Run summary: projects=6 '
	[ "$(cat "$RUNDIR/mirror/status")" = "$(upstream_serial)" ]
	[ "$(find "$RUNDIR/mirror/web/simple" -name index.v1_json | wc -l)" -eq 7 ]
	[ -n "$(find "$RUNDIR/mirror/web/packages" -type f -name '*.whl' -user pypi-mirror)" ]
	grep -q 'INFO: Run summary: projects=6 ' "$RUNDIR/log/pypi-mirror.log"
	run env -i PATH=/usr/bin:/bin /usr/bin/pypi-mirror --version
	assert_success
	assert_output --partial "$(sed -n 's/^VERSION *:= *//p' "$TOP/Makefile")"
}

@test "1504 man -w finds every man page of the tree, installed" {
	[ "$(installed)" = "install ok installed" ]
	local m name sec n=0
	for m in "$TOP"/man/*.[1-8]; do
		name=${m##*/}
		sec=${name##*.}
		name=${name%.*}
		run man -w "$sec" "$name"
		assert_success
		assert_output "/usr/share/man/man$sec/$name.$sec.gz"
		n=$((n + 1))
	done
	[ "$n" -ge 11 ]
}

@test "1505 dpkg -r keeps the configuration, dpkg -P removes everything but the user (kept, as documented)" {
	[ "$(installed)" = "install ok installed" ]
	dpkg -L pypi-mirror >"$BATS_TEST_TMPDIR/files"
	run dpkg -r pypi-mirror
	assert_success
	[ "$(installed)" = "deinstall ok config-files" ]
	[ ! -e /usr/bin/pypi-mirror ]
	[ ! -e /usr/bin/index-write ]
	[ -f /etc/pypi-mirror.conf ]
	run dpkg -P pypi-mirror
	assert_success
	run dpkg-query -W pypi-mirror
	assert_failure
	[ ! -e /etc/pypi-mirror.conf ]
	[ ! -e /var/log/pypi-mirror ]
	# nothing of the package's is left but directories other packages share
	local f left=""
	while read -r f; do
		[ -e "$f" ] || continue
		[ -d "$f" ] && [ -n "$(ls -A "$f")" ] && continue
		left="$left $f"
	done <"$BATS_TEST_TMPDIR/files"
	[ -z "$left" ] || fail "left after purge:$left"
	# README.Debian: the user stays (it may still own the mirror)
	getent passwd pypi-mirror
	grep -q 'keeps the pypi-mirror' "$TOP/debian/README.Debian"
}
