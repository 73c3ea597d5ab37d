#!/usr/bin/env bats
# Partial mirrors end to end: `pypi-mirror mirror` with bandersnatch's
# filter plugins against the PyPI emulator, over real HTTP on loopback,
# asserting on what lands on disk, on the pages and on what upstream was
# asked. Also: a change of the filters prunes the mirror (bandersnatch never
# does, its issue #307), within the deletion cap.

load lib/common

# One emulator for the file (starting one costs seconds on a loaded
# machine). Eight projects of four releases: Demo_Pkg (1.0 yanked with a
# reason full of HTML, 1.1.dev0 yanked, 2.0rc1, 2.0), zope.interface,
# Foo.Bar-baz, MixedCase, simple.Lib_Name, UPPER-case__pkg and two generated
# names. Versions, files and upload times are read from the emulator, not
# written down here. Three tests add releases or files, each to a project of
# its own (simple.Lib_Name: 1107, UPPER-case__pkg: 1108, MixedCase: 1113);
# the others compute what they expect from upstream at the time they run,
# so the order of the tests does not matter.
setup_file() {
	emu_file_start --projects 8 --releases 4 --seed 11
}

setup() {
	tool_env
	M="$BATS_TEST_TMPDIR/mirror"
	CONF="$BATS_TEST_TMPDIR/pypi-mirror.conf"
}

teardown() {
	common_teardown
	if [ -n "${NGINX_PID_STARTED:-}" ] && declare -F nginx_stop >/dev/null; then nginx_stop; fi
	return 0
}

# config FILTERS [MIRROR_EXTRA] [OURS_EXTRA]: the configuration of mirror $M
# with the filter sections FILTERS.
config() {
	write_config "$CONF" "$M" "$BATS_TEST_TMPDIR/log" "${2:-}" "${3:-}" "$1"
}

# A project's JSON, fresh (a query string bypasses the emulator's CDN).
upjson() { curl -fsSL "$EMU_URL/pypi/$(norm "$1")/json?fresh=$RANDOM"; }
# Upstream's versions that have files, and its file names, sorted.
up_versions() { upjson "$1" | jq -r '.releases | to_entries[] | select(.value | length > 0) | .key' | sort; }
up_files() { upjson "$1" | jq -r '.releases[][].filename' | sort; }
# What the mirror's page of a project lists (PEP 700 "versions" are those with files).
page_versions() { jq -r '.versions[]' "$M/web/simple/$(norm "$1")/index.v1_json" | sort; }
page_files() { jq -r '.files[].filename' "$M/web/simple/$(norm "$1")/index.v1_json" | sort; }
# Package files on disk (not the .metadata companions).
disk_files() {
	[ -d "$M/web/packages" ] || return 0
	find "$M/web/packages" -type f ! -name '*.metadata' ! -name '.*' -printf '%f\n' | sort
}
# Project directories on disk and projects in the root index, normalized.
mirrored() { find "$M/web/simple" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort; }
root_names() { jq -r '.projects[].name | ascii_downcase | gsub("[-_.]+"; "-")' "$M/web/simple/index.v1_json" | sort; }
all_names() { simple_root | jq -r '.projects[].name | ascii_downcase | gsub("[-_.]+"; "-")' | sort; }
# Projects whose JSON the emulator served since the last reset-stats.
json_fetched() { emu_stats | jq -r '.requests | keys[] | select(startswith("GET /pypi/")) | split("/")[2]' | sort -u; }
lines() { printf '%s\n' "$@" | sed '/^$/d' | sort; }
# (Bash's errexit ignores "! cmd", so negative checks fail explicitly.)
refute_files() {
	local hits
	hits=$(disk_files | grep -E "$1") && fail "files matching '$1' on disk: $hits"
	return 0
}
refute_version() {
	page_versions "$1" | grep -qxF "$2" && fail "$1 $2 is on the page"
	return 0
}

# The projects on disk, in the root index and (for each) with pages are
# exactly $@; every page is consistent with the files.
assert_projects() {
	local want
	want=$(lines "$@")
	assert_equal "$(mirrored)" "$want"
	assert_equal "$(root_names)" "$want"
	assert_pages_consistent
}

# Every link of every project page (JSON and HTML) is a file on disk with
# the listed size and sha256, the HTML and JSON pages list the same files,
# and no package file on disk is left without a link. (A few processes for
# the whole mirror: forks are what this loaded test machine is slow at.)
assert_pages_consistent() {
	local page dir raw links
	local -a pages=("$M"/web/simple/*/index.v1_json)
	[ -e "${pages[0]}" ] || return 0
	# "sha256 size path" of every link, relative to web/ (%XX decoded).
	raw=$(jq -r '.files[] | "\(.hashes.sha256) \(.size) \(.url | sub("^\\.\\./\\.\\./"; ""))"' "${pages[@]}")
	[[ $raw != *'../'* && $raw != *'://'* ]] || fail "a page links outside the mirror: $raw"
	links=$(printf '%b' "${raw//%/\\x}")
	run bash -c "cd '$M/web' && sha256sum -c --quiet" < <(awk '{ print $1 "  " $3 }' <<<"$links")
	assert_success
	assert_equal "$(cd "$M/web" && awk '{ print $3 }' <<<"$links" | xargs -d '\n' stat -c '%s %n' | sort)" \
		"$(awk '{ print $2 " " $3 }' <<<"$links" | sort)"
	for page in "${pages[@]}"; do
		dir=${page%/index.v1_json}
		assert_equal "$(grep -o 'href="[^"#]*' "$dir/index.html" | cut -d'"' -f2 | sort)" \
			"$(jq -r '.files[].url' "$page" | sort)"
		cmp -s "$dir/index.html" "$dir/index.v1_html" || fail "$dir: index.html and index.v1_html differ"
	done
	[ -d "$M/web/packages" ] || return 0
	assert_equal "$(cd "$M/web" && find packages -type f ! -name '*.metadata' ! -name '.*' | sort)" \
		"$(awk '{ print $3 }' <<<"$links" | sort)"
}

@test "1101 pkg-filter: the rules' fingerprint ignores spelling and follows requirements files" {
	local req="$BATS_TEST_TMPDIR/req"
	mkdir -p "$req"
	printf 'zope.interface>=3.2\n# a comment\n-r other.txt\n' >"$req/a.txt"
	cat >"$BATS_TEST_TMPDIR/a.conf" <<EOF
[plugins]
enabled =
    allowlist_project
    blocklist_release
    project_requirements
[allowlist]
packages =
    Demo_Pkg
    MixedCase
requirements_path = $req
requirements =
    a.txt
[blocklist]
packages = demo-pkg==1.0
EOF
	# Old spellings, another order, comments, upper-case keys: the same rules.
	cat >"$BATS_TEST_TMPDIR/b.conf" <<EOF
# the same, as bandersnatch 4 would have it
[plugins]
enabled =
    project_requirements
    blacklist_release
    whitelist_project
[whitelist]
Packages =
    mixedcase
    # Demo_Pkg is the one with the yanked releases
    demo.pkg
requirements_path = $req
requirements = a.txt
[blacklist]
packages =
    Demo_Pkg == 1.0
EOF
	run pkg-filter -c "$BATS_TEST_TMPDIR/a.conf" --rules
	assert_success
	assert_line 'allow-project zope-interface'
	assert_line 'block-release demo-pkg ==1.0'
	local a b
	a=$(pkg-filter -c "$BATS_TEST_TMPDIR/a.conf" --fingerprint)
	b=$(pkg-filter -c "$BATS_TEST_TMPDIR/b.conf" --fingerprint)
	[[ $a =~ ^[0-9a-f]{64}$ ]]
	assert_equal "$b" "$a"
	# A requirements file is part of the rules.
	printf 'zope.interface>=3.2\nfoo-bar-baz\n' >"$req/a.txt"
	b=$(pkg-filter -c "$BATS_TEST_TMPDIR/a.conf" --fingerprint)
	[ "$b" != "$a" ]
	# Read as configparser reads it: globs of requirements files, ";" inside
	# a value, lines longer than libinih's default 200 bytes.
	local long
	long=$(printf 'x%.0s' {1..300})
	printf 'MixedCase==1.1\n' >"$req/b.txt"
	cat >"$BATS_TEST_TMPDIR/c.conf" <<EOF
[plugins]
enabled =
    project_requirements_pinned
    regex_release_file
[allowlist]
requirements_path = $req
requirements = *.txt
[filter_regex]
files =
    .*[.]zip ;$long
EOF
	run pkg-filter -c "$BATS_TEST_TMPDIR/c.conf" --rules
	assert_success
	assert_line 'pinned-project mixedcase'
	assert_line 'allow-release zope-interface >=3.2'
	assert_line "regex-file ^(?:.*[.]zip ;$long)"
	# A bad rule is a configuration error, and the wrapper stops before anything.
	M="$BATS_TEST_TMPDIR/mirror"
	config "[plugins]
enabled = regex_project
[filter_regex]
packages = (unclosed"
	run pm mirror
	assert_failure 2
	assert_output --partial '[filter_regex] packages'
	[ ! -e "$M/status" ]
	# The fingerprints above hashed through libcrypto loaded at first use: run
	# twice a pass, pkg-filter needs it (and HTTP, XML) only for that and a
	# mirror in a bucket.
	assert_loads_lazily "$(command -v pkg-filter)" libcurl libcrypto libexpat
}

@test "1102 pypi-mirror: an allowlist mirrors those projects only, and never asks about the others" {
	config "$(plugins_section allowlist_project)
$(allowlist_section Demo_Pkg zope.interface)"
	admin reset-stats
	run pm mirror
	assert_success
	assert_projects demo-pkg zope-interface
	assert_equal "$(json_fetched)" "$(lines demo-pkg zope-interface)"
	assert_equal "$(disk_files)" "$(lines "$(up_files Demo_Pkg)" "$(up_files zope.interface)")"
	# The filtered run recorded its rules; the idle run after it is no full pass.
	[ -s "$M/pypi-mirror.filters" ]
	run pm mirror
	assert_success
	refute_output --partial 'Full pass'
	assert_output --partial 'Nothing to sync'
}

@test "1103 pypi-mirror: an allowlist line with a specifier keeps only the matching releases" {
	config "[plugins]
enabled =
    allowlist_project
    allowlist_release
[allowlist]
packages =
    zope.interface>=3.2
    Demo_Pkg"
	run pm mirror
	assert_success
	assert_projects demo-pkg zope-interface
	local want
	want=$(up_versions zope.interface | awk -F. '$1 > 3 || ($1 == 3 && $2 >= 2)')
	[ -n "$want" ]
	[ "$want" != "$(up_versions zope.interface)" ]
	assert_equal "$(page_versions zope.interface)" "$want"
	# A bare name keeps every release.
	assert_equal "$(page_versions Demo_Pkg)" "$(up_versions Demo_Pkg)"
	# A release pinned in a requirements file is kept whatever the other
	# release rules say (bandersnatch 6.5): here, a pre-release.
	printf 'Demo_Pkg==2.0rc1\n' >"$BATS_TEST_TMPDIR/requirements.txt"
	M="$BATS_TEST_TMPDIR/mirror2"
	config "[plugins]
enabled =
    project_requirements
    project_requirements_pinned
    prerelease_release
[allowlist]
requirements_path = $BATS_TEST_TMPDIR
requirements = requirements.txt"
	run pm mirror
	assert_success
	assert_projects demo-pkg
	assert_equal "$(page_versions Demo_Pkg)" 2.0rc1
}

@test "1104 pypi-mirror: a blocklisted project is not mirrored" {
	config "[plugins]
enabled = blocklist_project
[blocklist]
packages =
    Demo_Pkg
    zope.interface>=3"
	admin reset-stats
	run pm mirror
	assert_success
	# A line with a specifier is a release rule, not a project rule.
	local want
	want=$(all_names | grep -vx demo-pkg)
	assert_projects $want
	json_fetched | grep -qx demo-pkg && fail "demo-pkg's JSON was fetched"
	refute_files '^demo_pkg-'
}

@test "1105 pypi-mirror: blocklisted release specifiers drop those releases" {
	config "[plugins]
enabled =
    allowlist_project
    blocklist_release
[allowlist]
packages =
    Demo_Pkg
    zope.interface
[blocklist]
packages =
    zope.interface<3.2,!=3.0
    Demo_Pkg==2.0rc1
    demo-pkg~=1.0"
	run pm mirror
	assert_success
	assert_projects demo-pkg zope-interface
	# ~=1.0 is >=1.0,==1.*: 1.0 and 1.1.dev0 (pre-releases match, as in bandersnatch)
	assert_equal "$(page_versions Demo_Pkg)" "$(lines 2.0)"
	assert_equal "$(page_versions zope.interface)" "$(up_versions zope.interface | grep -vx '3\.1')"
}

@test "1106 pypi-mirror: pre-releases are excluded, for every project or only for those listed" {
	local pre='(rc|a|b|dev)[0-9]*$'
	config "$(plugins_section allowlist_project prerelease_release)
$(allowlist_section Demo_Pkg Foo.Bar-baz MixedCase)"
	run pm mirror
	assert_success
	assert_projects demo-pkg foo-bar-baz mixedcase
	local p
	for p in Demo_Pkg Foo.Bar-baz MixedCase; do
		up_versions $p | grep -qE "$pre" || fail "$p has no pre-release upstream: the test proves nothing"
		assert_equal "$(page_versions $p)" "$(up_versions $p | grep -vE "$pre")"
	done
	refute_files '(rc|dev)[0-9]'
	# Only for the projects in [filter_prerelease]: the others keep theirs.
	M="$BATS_TEST_TMPDIR/mirror2"
	config "$(plugins_section allowlist_project prerelease_release)
$(allowlist_section Demo_Pkg Foo.Bar-baz)
[filter_prerelease]
packages =
    demo_pkg"
	run pm mirror
	assert_success
	assert_projects demo-pkg foo-bar-baz
	assert_equal "$(page_versions Demo_Pkg)" "$(up_versions Demo_Pkg | grep -vE "$pre")"
	assert_equal "$(page_versions Foo.Bar-baz)" "$(up_versions Foo.Bar-baz)"
}

@test "1107 pypi-mirror: latest N releases, by version and by upload time" {
	# An old version uploaded last: the two orders disagree about it.
	admin new-release name=simple.Lib_Name version=0.0.1
	config "[plugins]
enabled =
    allowlist_project
    latest_release
[allowlist]
packages =
    simple.Lib_Name
    zope.interface
[latest_release]
keep = 2"
	run pm mirror
	assert_success
	assert_projects simple-lib-name zope-interface
	assert_equal "$(page_versions zope.interface)" "$(up_versions zope.interface | sort -V | tail -n 2 | sort)"
	assert_equal "$(page_versions simple.Lib_Name)" "$(up_versions simple.Lib_Name | sort -V | tail -n 2 | sort)"
	refute_version simple.Lib_Name 0.0.1
	M="$BATS_TEST_TMPDIR/mirror2"
	# By time, the newest upload (0.0.1) and, as bandersnatch never drops
	# it, the current version in place of the second newest.
	config "[plugins]
enabled =
    allowlist_project
    latest_release
[allowlist]
packages = simple.Lib_Name
[latest_release]
keep = 2
sort_by = time"
	run pm mirror
	assert_success
	local current
	current=$(upjson simple.Lib_Name | jq -r .info.version)
	[ "$current" != 0.0.1 ] || fail "0.0.1 is the current version"
	assert_equal "$(page_versions simple.Lib_Name)" "$(lines 0.0.1 "$current")"
	assert_equal "$(disk_files)" "$(up_files simple.Lib_Name | grep -E -- "-(0\.0\.1|${current//./\\.})[-.]")"
}

@test "1108 pypi-mirror: platform exclusion drops those wheels, sdists and pure wheels stay" {
	# A Python 2 only wheel, which py2 excludes (py2.py3 wheels stay).
	admin add-file name=UPPER-case__pkg version=1.1 kind=wheel tag=py2-none-any
	config "$(plugins_section allowlist_project exclude_platform)
$(allowlist_section UPPER-case__pkg zope.interface Demo_Pkg)
[blocklist]
platforms =
    windows
    macos
    linux
    py2"
	run pm mirror
	assert_success
	assert_projects demo-pkg upper-case-pkg zope-interface
	local up
	up=$(lines "$(up_files UPPER-case__pkg)" "$(up_files zope.interface)" "$(up_files Demo_Pkg)")
	echo "$up" | grep -qE 'win_amd64|macosx|manylinux|musllinux'
	echo "$up" | grep -q -- '-py2-none-any'
	echo "$up" | grep -q -- '-py2.py3-none-any'
	assert_equal "$(disk_files)" "$(echo "$up" | grep -E '\.tar\.gz$|-py3-none-any\.whl$|-py2\.py3-none-any\.whl$')"
	# musllinux alone: manylinux wheels stay.
	M="$BATS_TEST_TMPDIR/mirror2"
	config "$(plugins_section allowlist_project exclude_platform)
$(allowlist_section UPPER-case__pkg zope.interface)
[blocklist]
platforms = musllinux"
	run pm mirror
	assert_success
	up=$(lines "$(up_files UPPER-case__pkg)" "$(up_files zope.interface)")
	echo "$up" | grep -q musllinux
	echo "$up" | grep -q manylinux
	assert_equal "$(disk_files)" "$(echo "$up" | grep -v musllinux)"
	assert_pages_consistent
}

@test "1109 pypi-mirror: file and release regular expressions" {
	config "[plugins]
enabled =
    allowlist_project
    regex_release_file
    regex_release
[allowlist]
packages =
    zope.interface
    Demo_Pkg
[filter_regex]
files =
    .*-win_amd64\\.whl\$
    .*\\.tar\\.gz
releases =
    .+rc\\d+\$"
	run pm mirror
	assert_success
	assert_projects demo-pkg zope-interface
	local up
	up=$(lines "$(up_files zope.interface)" "$(up_files Demo_Pkg)")
	assert_equal "$(disk_files)" "$(echo "$up" | grep -v -e 'win_amd64\.whl$' -e '\.tar\.gz$' -e '-2\.0rc1[-.]')"
	refute_version Demo_Pkg 2.0rc1
}

@test "1110 pypi-mirror: a project regular expression drops projects before they are fetched" {
	config "[plugins]
enabled = regex_project
[filter_regex]
packages =
    .*-pkg\$
    zope"
	admin reset-stats
	run pm mirror
	assert_success
	local want
	want=$(all_names | grep -v -e '-pkg$' -e '^zope')
	[ "$(echo "$want" | wc -l)" -lt "$(all_names | wc -l)" ]
	assert_projects $want
	assert_equal "$(json_fetched)" "$want"
}

@test "1111 pypi-mirror: projects larger than max_package_size are dropped, allowlisted ones exempt" {
	# Sizes from upstream: the limit is the median project's total, so
	# some projects are above it and some below.
	local sizes limit big small
	sizes=$(for p in $(all_names); do printf '%s %s\n' "$(upjson "$p" | jq '[.releases[][].size] | add // 0')" "$p"; done | sort -n)
	limit=$(echo "$sizes" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	big=$(echo "$sizes" | awk -v l="$limit" '$1 > l { print $2 }' | sort)
	small=$(echo "$sizes" | awk -v l="$limit" '$1 <= l { print $2 }' | sort)
	[ -n "$big" ]
	[ -n "$small" ]
	local exempt
	exempt=$(echo "$big" | head -n 1)
	config "[plugins]
enabled = size_project_metadata
[size_project_metadata]
max_package_size = $limit
[allowlist]
packages = $exempt"
	run pm mirror
	assert_success
	assert_projects $small $exempt
}

@test "1112 pypi-mirror: min_age holds back young releases until they come of age" {
	# Pin "now" to an hour after zope.interface's newest release: with a
	# 24-hour cooldown, the releases of the last day wait.
	local j first now want
	j=$(upjson zope.interface)
	first=$(echo "$j" | jq -c '.releases | to_entries | map(select(.value | length > 0) | {v: .key, t: (.value | map(.upload_time + "Z" | fromdateiso8601) | min)})')
	now=$(echo "$first" | jq 'map(.t) | max + 3600')
	want=$(echo "$first" | jq -r --argjson now "$now" '.[] | select(.t <= $now - 86400) | .v' | sort)
	[ -n "$want" ]
	[ "$want" != "$(up_versions zope.interface)" ]
	config "[plugins]
enabled =
    allowlist_project
    min_age_release
[allowlist]
packages = zope.interface
[min_age]
hours = 24"
	export PYPI_MIRROR_NOW=$now
	run pm mirror
	assert_success
	assert_projects zope-interface
	assert_equal "$(page_versions zope.interface)" "$want"
	grep -q '"name":"zope-interface"' "$M/pypi-mirror.deferred"
	# Two days later, with nothing changed upstream, the run looks again.
	export PYPI_MIRROR_NOW=$((now + 2 * 86400))
	run pm mirror
	assert_success
	assert_output --partial 'Looking again at 1 projects'
	assert_equal "$(page_versions zope.interface)" "$(up_versions zope.interface)"
	[ ! -e "$M/pypi-mirror.deferred" ]
	assert_pages_consistent
}

@test "1113 pypi-mirror: PEP 440 post and local releases in specifiers" {
	admin new-release name=MixedCase version=1.2.post1
	admin new-release name=MixedCase version=1.2+local.1
	up_versions MixedCase | grep -qx '1.2+local.1'
	# ==1.2 matches the local version 1.2+local.1 but not the post release.
	config "[plugins]
enabled =
    allowlist_project
    blocklist_release
[allowlist]
packages = MixedCase
[blocklist]
packages = MixedCase==1.2"
	run pm mirror
	assert_success
	assert_equal "$(page_versions MixedCase)" "$(up_versions MixedCase | grep -vx -e '1\.2' -e '1\.2+local\.1')"
	page_versions MixedCase | grep -qx 1.2.post1
	assert_pages_consistent # the "+" in the file names is percent-encoded in the links
	# >1.2 admits neither post releases nor local versions of 1.2 (PEP 440).
	M="$BATS_TEST_TMPDIR/mirror2"
	config "[plugins]
enabled =
    allowlist_project
    allowlist_release
[allowlist]
packages = MixedCase>1.2"
	run pm mirror
	assert_success
	local want
	want=$(up_versions MixedCase | grep -v -e '^0\.' -e '^1\.[012]\($\|[.+]\)')
	[ -n "$want" ]
	assert_equal "$(page_versions MixedCase)" "$want"
}

@test "1114 pypi-mirror: a bandersnatch configuration with its filters is accepted as it is" {
	cat >"$CONF" <<EOF
[mirror]
; The directory where the mirror data will be stored.
directory = $M
json = false
release-files = true
cleanup = false
master = $EMU_URL
allow-non-https = true
timeout = 10
global-timeout = 18000
workers = 3
hash-index = false
simple-format = ALL
stop-on-error = false
storage-backend = filesystem
verifiers = 3
keep_index_versions = 0
compare-method = hash
digest_name = sha256

[plugins]
enabled =
    whitelist_project
    blacklist_release
    prerelease_release
    exclude_platform

[whitelist]
packages =
    Demo_Pkg
    zope.interface
    Foo.Bar-baz

[blacklist]
packages =
    zope.interface<3.1
platforms =
    windows
    macos

# pypi-mirror's own section (bandersnatch ignores it): the test's log stays
# out of /var/log.
[pypi-mirror]
log-dir = $BATS_TEST_TMPDIR/log
EOF
	run mirror-config -c "$CONF"
	assert_success
	refute_output --partial 'ERROR:'
	run pm mirror
	assert_success
	assert_projects demo-pkg foo-bar-baz zope-interface
	refute_files 'win_amd64|macosx|(rc|dev)[0-9]'
	refute_version zope.interface 3.0
	disk_files | grep -q manylinux
}

@test "1115 pypi-mirror: changing the filters prunes what they no longer select" {
	local allow="[plugins]
enabled =
    allowlist_project
[allowlist]
packages ="
	config "$allow
    Demo_Pkg
    zope.interface"
	run pm mirror
	assert_success
	assert_projects demo-pkg zope-interface
	local fp1
	fp1=$(cat "$M/pypi-mirror.filters")
	# Drop zope.interface: its pages and files go, the root lists Demo_Pkg only.
	config "$allow
    Demo_Pkg"
	run pm mirror
	assert_success
	assert_output --partial 'Full pass: the filter configuration changed'
	assert_output --partial 'Removed zope-interface'
	assert_projects demo-pkg
	assert_equal "$(disk_files)" "$(up_files Demo_Pkg)"
	[ "$(cat "$M/pypi-mirror.filters")" != "$fp1" ]
	# Exclude a platform: those wheels of the projects kept are deleted.
	disk_files | grep -q 'win_amd64\|macosx'
	config "[plugins]
enabled =
    allowlist_project
    exclude_platform
[allowlist]
packages = Demo_Pkg
[blocklist]
platforms = windows macos"
	run pm mirror
	assert_success
	assert_output --partial 'Deleting file: packages/'
	assert_projects demo-pkg
	assert_equal "$(disk_files)" "$(up_files Demo_Pkg | grep -v -e win_amd64 -e macosx)"
	# The same rules again: an ordinary run, nothing pruned.
	run pm mirror
	assert_success
	refute_output --partial 'Full pass'
	refute_output --partial 'Deleting file'
	# Loosening works too (bandersnatch #1297): a project allowed again
	# comes back although nothing changed upstream.
	config "[plugins]
enabled = allowlist_project
[allowlist]
packages =
    Demo_Pkg
    zope.interface"
	run pm mirror
	assert_success
	assert_projects demo-pkg zope-interface
	assert_equal "$(disk_files)" "$(lines "$(up_files Demo_Pkg)" "$(up_files zope.interface)")"
	# And taking the filters away makes a full mirror of it.
	config ""
	run pm mirror
	assert_success
	assert_output --partial 'Full pass: the filters were removed'
	assert_projects $(all_names)
	[ ! -e "$M/pypi-mirror.filters" ]
}

@test "1116 pypi-mirror: the deletion cap stops a filter change that would empty the mirror" {
	local rules="[plugins]
enabled = allowlist_project
[allowlist]
packages ="
	config "$rules
    Demo_Pkg
    zope.interface" "" "max-deletions = 1"
	run pm mirror
	assert_success
	local before fp
	before=$(disk_files)
	fp=$(cat "$M/pypi-mirror.filters")
	# A typo in the allowlist would remove both projects: refused.
	config "$rules
    Demo-Pkgg" "" "max-deletions = 1"
	run pm mirror
	assert_failure 1
	assert_output --partial 'deletion cap of 1 files reached'
	assert_output --partial 'Filtered out demo-pkg'
	assert_equal "$(disk_files)" "$before"
	assert_projects demo-pkg zope-interface
	grep -q '"name":"demo-pkg"' "$M/pypi-mirror.failed"
	grep -q '"name":"zope-interface"' "$M/pypi-mirror.failed"
	# Typo fixed: the projects leave the failed list, nothing was lost.
	config "$rules
    Demo_Pkg
    zope.interface" "" "max-deletions = 1"
	run pm mirror
	assert_success
	assert_equal "$(disk_files)" "$before"
	assert_equal "$(cat "$M/pypi-mirror.filters")" "$fp"
	[ ! -e "$M/pypi-mirror.failed" ]
}

@test "1117 pypi-mirror: filtered pages match the files on disk, and yanked releases stay marked" {
	config "[plugins]
enabled =
    allowlist_project
    exclude_platform
    regex_release_file
[allowlist]
packages =
    Demo_Pkg
    Foo.Bar-baz
[blocklist]
platforms = linux
[filter_regex]
files = .*-py3-none-any\\.whl\$"
	run pm mirror
	assert_success
	assert_projects demo-pkg foo-bar-baz
	refute_files 'linux|-py3-none-any'
	# Demo_Pkg's 1.0 and 1.1.dev0 are yanked upstream: their links say so.
	local yanked f line
	yanked=$(upjson Demo_Pkg | jq -r '.releases[][] | select(.yanked) | .filename')
	[ -n "$yanked" ]
	for f in $(page_files Demo_Pkg); do
		line=$(grep -F ">$f</a>" "$M/web/simple/demo-pkg/index.html")
		if echo "$yanked" | grep -qxF "$f"; then
			[[ $line == *data-yanked=* ]] || fail "$f is yanked but its link does not say so"
		else
			[[ $line != *data-yanked=* ]] || fail "$f is not yanked but its link says so"
		fi
	done
	page_files Demo_Pkg | grep -qxF "$(echo "$yanked" | grep '\.tar\.gz$' | head -n 1)"
	grep -q 'data-yanked="Broken build: use &gt;=1.1 &amp; don&#39;t &#34;pin&#34; &lt;this&gt;"' "$M/web/simple/demo-pkg/index.html"
}

@test "1118 pypi-mirror: pip installs an allowed project from the partial mirror, not a filtered one" {
	load lib/nginx
	config "[plugins]
enabled = allowlist_project
[allowlist]
packages = Demo_Pkg"
	run pm mirror
	assert_success
	nginx_start "$M/web"
	NGINX_PID_STARTED=1
	run python3 -m pip download --no-deps --no-cache-dir --disable-pip-version-check \
		--index-url "$NGINX_URL/simple/" -d "$BATS_TEST_TMPDIR/dl" Demo_Pkg==2.0
	assert_success
	ls "$BATS_TEST_TMPDIR"/dl/demo_pkg-2.0*
	run python3 -m pip download --no-deps --no-cache-dir --disable-pip-version-check \
		--index-url "$NGINX_URL/simple/" -d "$BATS_TEST_TMPDIR/dl2" zope.interface
	assert_failure
	assert_output --partial 'No matching distribution found for zope.interface'
	[ ! -d "$BATS_TEST_TMPDIR/dl2" ] || [ -z "$(ls "$BATS_TEST_TMPDIR/dl2")" ]
}

@test "1119 pypi-mirror: regex_project_metadata keeps the projects whose JSON document matches" {
	admin new-project name=meta-keep version=1.0 summary="a keeper of things" >/dev/null
	admin new-project name=meta-drop version=1.0 summary="something else" >/dev/null
	# bandersnatch's spelling: tags before the dotted path, one pattern a line.
	config "[plugins]
enabled = regex_project_metadata
[regex_project_metadata]
info.summary =
    a keeper
    never.*matches
not-null:info.license = MIT
none:info.classifiers = .*Python :: 2"
	run pkg-filter -c "$CONF" --needs-json
	assert_success
	run pm mirror
	assert_success
	assert_projects meta-keep
	# The document was spooled for the filter (no [mirror] json), then removed.
	[ ! -e "$M/web/json" ] || fail "web/json written without json = true"
	[ ! -e "$M/.spool" ] || fail "the spool was left behind"
	# Without the document (a pipe without --save-json), an error record, not a guess.
	run --separate-stderr bash -c "echo '{\"name\":\"meta-keep\"}' | pkg-resolve -u '$EMU_URL' --allow-non-https | pkg-filter -c '$CONF'"
	assert_failure 1
	assert_equal "$(jq -r '.type + " " + .name' <<<"$output")" "error meta-keep"
	[[ "$(jq -r .reason <<<"$output")" == *"json_file"* ]] || fail "$output"
	# Rules that read no document need none.
	config "[plugins]
enabled = latest_release"
	run pkg-filter -c "$CONF" --needs-json
	assert_failure 1
}

@test "1120 pypi-mirror: versions_count_project_metadata keeps projects with min..max releases, allowlisted ones exempt" {
	admin new-project name=count-one version=1.0 >/dev/null
	config "[plugins]
enabled = versions_count_project_metadata
[versions_count_project_metadata]
min_versions = 2
max_versions = 4
[allowlist]
packages = count-one"
	run pm mirror
	assert_success
	# Expected from upstream: the releases with files (what the records
	# list; with the JSON document spooled, releases without files count too).
	local n c want=count-one
	for n in $(all_names); do
		c=$(upjson "$n" | jq '[.releases[] | select(length > 0)] | length')
		[ "$c" -ge 2 ] && [ "$c" -le 4 ] && want+=" $n"
	done
	assert_projects $want
	mirrored | grep -qx demo-pkg || fail "demo-pkg (4 releases) is missing"
	# Under the minimum and not allowlisted: dropped.
	admin new-project name=count-lone version=1.0 >/dev/null
	run pm mirror
	assert_success
	mirrored | grep -qx count-lone && fail "count-lone (one release) is mirrored"
	mirrored | grep -qx count-one || fail "count-one (allowlisted) is gone"
}

@test "1121 pypi-mirror: latest_release keeps the current version in place of the oldest of the newest N" {
	admin new-project name=cur-pkg version=1.0 >/dev/null
	admin new-release name=cur-pkg version=1.1 >/dev/null
	admin new-release name=cur-pkg version=2.0a1 >/dev/null
	admin new-release name=cur-pkg version=2.0b1 >/dev/null
	assert_equal "$(upjson cur-pkg | jq -r .info.version)" 1.1
	config "[plugins]
enabled =
    allowlist_project
    latest_release
[allowlist]
packages = cur-pkg
[latest_release]
keep = 2"
	run pm mirror
	assert_success
	assert_equal "$(page_versions cur-pkg)" "$(lines 1.1 2.0b1)"
	assert_pages_consistent
	# 1.1 yanked: 1.0 is current now, and 1.1 goes at the next run.
	admin yank name=cur-pkg version=1.1 >/dev/null
	run pm mirror
	assert_success
	assert_equal "$(page_versions cur-pkg)" "$(lines 1.0 2.0b1)"
	refute_files 'cur_pkg-1\.1[-.]'
}

@test "1122 pypi-mirror: version_range_release_file_metadata keeps the files a Python version can install" {
	admin new-project name=range-pkg version=1.0 requires_python='>=3.6' >/dev/null
	admin new-release name=range-pkg version=2.0 requires_python='>=3.13' >/dev/null
	admin new-release name=range-pkg version=3.0 >/dev/null
	config "[plugins]
enabled =
    allowlist_project
    version_range_release_file_metadata
    regex_release_file_metadata
[allowlist]
packages = range-pkg
[version_range_release_file_metadata]
release_file.requires_python =
    3.11
    3.12
[regex_release_file_metadata]
release_file.packagetype = bdist_wheel"
	run pm mirror
	assert_success
	# 2.0 needs 3.13; 3.0 says nothing (null passes); sdists are not wheels.
	assert_equal "$(page_versions range-pkg)" "$(lines 1.0 3.0)"
	assert_equal "$(disk_files)" "$(up_files range-pkg | grep -E -- '-(1|3)\.0-.*\.whl$')"
	# The reason, as pkg-filter gives it.
	run --separate-stderr bash -c "echo '{\"name\":\"range-pkg\"}' | pkg-resolve -u '$EMU_URL' --allow-non-https |
		pkg-filter -c '$CONF' --dropped '$BATS_TEST_TMPDIR/dropped.ndjson'"
	assert_success
	grep -q "'>=3.13' admits none of 3.11 3.12" "$BATS_TEST_TMPDIR/dropped.ndjson" || fail "$(cat "$BATS_TEST_TMPDIR/dropped.ndjson")"
}
