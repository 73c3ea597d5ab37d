#!/usr/bin/env bats
# 19NN: pkg-closure: requirement and lock-file closures for target
# environments, mirrored through artifact-get and index-write, served by
# nginx, and read by a real pip for the host and for foreign environments.
# The upstream is the emulator's fixed dependency graph (generate --graph):
# graph-app depends on graph-core (a cycle graph-cycle-a <-> graph-cycle-b
# below it), graph-extras[fast], graph-native (platform wheels only) on
# Python >= 3.9, graph-win on Windows, graph-arm on arm64/aarch64, and on
# graph-old (Python < 3.8) and graph-test (extra "test"), which no target
# takes.

load lib/common
load lib/nginx

setup_file() {
	# The host's environment as pkg-closure spells it (the tests' pip installs there).
	HOST_ENV="$("$PY" -c 'import sys,platform; print("cp%d%d-manylinux-%s" % (sys.version_info[0], sys.version_info[1], platform.machine()))')"
	export HOST_ENV
	emu_file_start --projects 2 --seed 1 --graph
	export EMU_URL EMU_PID
}

setup() {
	tool_env
	MIRROR="$BATS_TEST_TMPDIR/mirror"
	WEB="$MIRROR/web"
	mkdir -p "$MIRROR"
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	common_teardown
	nginx_stop
}

closure() {
	pkg-closure -u "$EMU_URL" --allow-non-https "$@" </dev/null
}

# pkg-closure ARGS | artifact-get | index-write into $MIRROR; the closure's
# records in closure.out, its log in closure.log.
mirror_closure() {
	local rc=0
	closure "$@" >closure.out 2>closure.log || rc=$?
	artifact-get -d "$MIRROR" -u "$EMU_URL" --allow-non-https <closure.out 2>fetch.log |
		index-write -d "$MIRROR" --json >synced.out 2>index.log || return 1
	return $rc
}

# Whether some record on stdin matches the jq condition.
has_record() {
	jq -s -e "any(.[]; $1)" >/dev/null
}

# The package files the mirror holds (basenames, sorted; no .metadata).
mirror_files() {
	find "$WEB/packages" -type f ! -name '*.metadata' -printf '%f\n' | sort
}

@test "1901 closure: the host's pip installs the requirement set from the mirror alone" {
	"$PY" -m pip --version >/dev/null 2>&1 || skip "no pip"
	printf 'graph-app[test]\n' >req.txt
	mirror_closure -r req.txt -e "$HOST_ENV"
	nginx_start "$WEB"
	run "$PY" -m pip install --no-cache-dir --disable-pip-version-check --no-build-isolation \
		--index-url "$NGINX_URL/simple/" --target "$BATS_TEST_TMPDIR/site" graph-app[test]
	assert_success
	# Everything pip resolved landed, the extra's dependency too; the
	# marker-excluded ones are not even in the mirror.
	for m in graph_app graph_core graph_cycle_a graph_cycle_b graph_extras graph_speedups graph_native graph_test; do
		[ -f "$BATS_TEST_TMPDIR/site/$m/__init__.py" ] || fail "$m not installed"
	done
	grep -q '__version__ = "2.0"' "$BATS_TEST_TMPDIR/site/graph_app/__init__.py"
	[ ! -e "$WEB/simple/graph-old" ]
	[ ! -e "$WEB/simple/graph-win" ]
	[ ! -e "$WEB/simple/graph-slow" ]
	# pip read dependencies from the PEP 658 .metadata the mirror serves.
	grep -q '\.whl\.metadata 200' "$NGINX_DIR/access.log"
}

@test "1902 closure: pip downloads the whole set for foreign environments (Windows, macOS) from the mirror alone" {
	"$PY" -m pip --version >/dev/null 2>&1 || skip "no pip"
	printf 'graph-app\n' >req.txt
	mirror_closure -r req.txt -e cp312-win-amd64 -e cp313-macos-arm64
	nginx_start "$WEB"
	run "$PY" -m pip download --no-cache-dir --disable-pip-version-check --only-binary=:all: \
		--implementation cp --python-version 3.12 --platform win_amd64 \
		--index-url "$NGINX_URL/simple/" -d win graph-app
	assert_success
	run ls win
	assert_output "$(printf '%s\n' graph_app-2.0-py3-none-any.whl graph_core-2.0-py3-none-any.whl \
		graph_cycle_a-1.0-py3-none-any.whl graph_cycle_b-1.0-py3-none-any.whl graph_extras-1.0-py3-none-any.whl \
		graph_native-1.1-cp312-cp312-win_amd64.whl graph_speedups-1.0-py3-none-any.whl)"
	# pip download evaluates sys_platform and platform_machine markers on the
	# host whatever --platform says, so it skips graph-win (Windows) and
	# graph-arm (arm64): the closure has them, and pip gets them when asked.
	run "$PY" -m pip download --no-cache-dir --disable-pip-version-check --only-binary=:all: --no-deps \
		--implementation cp --python-version 3.12 --platform win_amd64 \
		--index-url "$NGINX_URL/simple/" -d win graph-win
	assert_success
	run "$PY" -m pip download --no-cache-dir --disable-pip-version-check --only-binary=:all: \
		--implementation cp --python-version 3.13 --platform macosx_14_0_arm64 \
		--index-url "$NGINX_URL/simple/" -d mac graph-app
	assert_success
	ls mac | grep -qx graph_native-1.1-cp313-cp313-macosx_11_0_arm64.whl
	ls mac | grep -qx graph_core-2.0-py3-none-any.whl
	run "$PY" -m pip download --no-cache-dir --disable-pip-version-check --only-binary=:all: --no-deps \
		--implementation cp --python-version 3.13 --platform macosx_14_0_arm64 \
		--index-url "$NGINX_URL/simple/" -d mac graph-arm
	assert_success
	# Each is in the closure of its own environment only.
	run --separate-stderr closure -r req.txt -e cp313-macos-arm64
	assert_equal "$(jq -r 'select(.name=="graph-arm" or .name=="graph-win") | .name' <<<"$output")" graph-arm
	run --separate-stderr closure -r req.txt -e cp312-win-amd64
	assert_equal "$(jq -r 'select(.name=="graph-arm" or .name=="graph-win") | .name' <<<"$output")" graph-win
	# Older versions matching the specifiers are in the closure too (policy: all).
	run "$PY" -m pip download --no-cache-dir --disable-pip-version-check --only-binary=:all: --no-deps \
		--implementation cp --python-version 3.12 --platform win_amd64 \
		--index-url "$NGINX_URL/simple/" -d old graph-app==1.0 graph-core==1.1 graph-native==1.0
	assert_success
}

@test "1903 closure: the mirror holds no file outside the closure" {
	printf 'graph-app\n' >req.txt
	mirror_closure -r req.txt -e cp311-manylinux-x86_64 -e cp312-win-amd64 -e cp313-macos-arm64
	run mirror_files
	assert_output "$(printf '%s\n' graph_app-1.0-py3-none-any.whl graph_app-2.0-py3-none-any.whl graph_arm-1.0-py3-none-any.whl \
		graph_core-1.0-py3-none-any.whl graph_core-1.1-py3-none-any.whl graph_core-2.0-py3-none-any.whl \
		graph_cycle_a-1.0-py3-none-any.whl graph_cycle_b-1.0-py3-none-any.whl graph_extras-1.0-py3-none-any.whl \
		graph_native-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl \
		graph_native-1.0-cp312-cp312-win_amd64.whl graph_native-1.0-cp313-cp313-macosx_11_0_arm64.whl \
		graph_native-1.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl \
		graph_native-1.1-cp312-cp312-win_amd64.whl graph_native-1.1-cp313-cp313-macosx_11_0_arm64.whl \
		graph_speedups-1.0-py3-none-any.whl graph_win-1.0-py3-none-any.whl | sort)"
	# pkg-closure read the .metadata of one file per version, never a whole
	# file (artifact-get fetched those, after it).
	admin reset-stats
	closure -r req.txt -e cp311-manylinux-x86_64 -e cp312-win-amd64 -e cp313-macos-arm64 >/dev/null 2>&1
	run emu_log
	refute_output --regexp '"path": "/packages/[^"]*\.(whl|tar\.gz)"'
	assert_equal "$(grep -c '\.whl\.metadata"' <<<"$output")" 13
	# The pages list exactly those files.
	run jq -r '.files[].filename' "$WEB/simple/graph-native/index.v1_json"
	assert_equal "$(wc -l <<<"$output")" 6
	grep -q 'pkg-closure: 9 projects, 17 files in the closure for 3 environments' closure.log
}

@test "1904 closure: --newest, -r/-c includes, --hash, comments, continuations, pyproject.toml extras" {
	mkdir sub
	sha=$(curl -fsS "$EMU_URL/pypi/graph-core/1.1/json" | jq -r '.urls[] | select(.packagetype=="bdist_wheel") | .digests.sha256')
	cat >sub/base.txt <<-EOF
		# the core, pinned by hash
		graph-core \\
		    >=1.0 --hash=sha256:$sha
		-c cons.txt
	EOF
	printf 'graph-cycle-a<99 # a comment\n' >sub/cons.txt
	printf -- '-r sub/base.txt\ngraph-extras[slow] ; python_version >= "3"\n--index-url http://ignored.invalid/\n' >req.txt
	run --separate-stderr closure -r req.txt -e cp311-manylinux-x86_64
	assert_success
	# --hash keeps exactly the file with that hash (and so one version).
	assert_equal "$(jq -r 'select(.name=="graph-core") | [.files[].filename] | join(" ")' <<<"$output")" \
		graph_core-1.1-py3-none-any.whl
	assert_equal "$(jq -r 'select(.name=="graph-slow") | .files | length' <<<"$output")" 1
	[ "$(jq -r 'select(.name=="graph-speedups") | .name' <<<"$output")" = "" ]
	# The ignored option is logged with file and line.
	[[ "$stderr" == *"req.txt:3: ignoring option --index-url"* ]] || fail "$stderr"

	# --newest 1: only graph-app 2.0, and what 2.0 needs.
	printf 'graph-app\n' >one.txt
	run --separate-stderr closure -r one.txt -e cp311-manylinux-x86_64 --newest 1
	assert_success
	assert_equal "$(jq -r 'select(.name=="graph-app" or .name=="graph-core" or .name=="graph-native") | .files[].filename' <<<"$output" | tr '\n' ' ')" \
		"graph_app-2.0-py3-none-any.whl graph_core-2.0-py3-none-any.whl graph_native-1.1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl "

	# pyproject.toml: dependencies and optional groups (all, or --extra).
	cat >pyproject.toml <<-'EOF'
		[project]
		name = "site"
		version = "1"
		dependencies = ["graph-sdist-only"]
		[project.optional-dependencies]
		slow = ["graph-slow"]
		old = ["graph-old ; python_version < '3.8'"]
	EOF
	run --separate-stderr closure --pyproject pyproject.toml -e cp311-manylinux-x86_64
	assert_success
	# A version with no wheel for an environment keeps its sdist.
	assert_equal "$(jq -r 'select(.name=="graph-sdist-only") | .files[].filename' <<<"$output")" graph_sdist_only-0.5.tar.gz
	has_record '.name=="graph-slow"' <<<"$output"
	run ! has_record '.name=="graph-old"' <<<"$output"
	run --separate-stderr closure --pyproject pyproject.toml --extra nothing -e cp311-manylinux-x86_64
	assert_success
	run ! has_record '.name=="graph-slow"' <<<"$output"
}

@test "1905 closure: a pylock.toml's exact files and only those; a hash mismatch refuses that file" {
	"$PY" -m pip --version >/dev/null 2>&1 || skip "no pip"
	j=$(curl -fsS "$EMU_URL/pypi/graph-native/1.0/json")
	lin=$(jq -r '.urls[] | select(.filename | test("cp311-manylinux")) | .filename' <<<"$j")
	lsha=$(jq -r --arg f "$lin" '.urls[] | select(.filename == $f) | .digests.sha256' <<<"$j")
	win=$(jq -r '.urls[] | select(.filename | test("win_amd64")) | .filename' <<<"$j")
	csha=$(curl -fsS "$EMU_URL/pypi/graph-cycle-a/json" | jq -r '.urls[] | select(.packagetype=="bdist_wheel") | .digests.sha256')
	cat >pylock.toml <<-EOF
		lock-version = "1.0"
		created-by = "hand"
		[[packages]]
		name = "graph-native"
		version = "1.0"
		wheels = [
		  { name = "$lin", url = "$EMU_URL/x/$lin", hashes = { sha256 = "$lsha" } },
		  { url = "$EMU_URL/packages/x/$win", hashes = { sha256 = "$(printf '0%.0s' {1..64})" } },
		]
		[[packages]]
		name = "graph-cycle-a"
		version = "1.0"
		wheels = [{ name = "graph_cycle_a-1.0-py3-none-any.whl", hashes = { sha256 = "$csha" } }]
	EOF
	run mirror_closure --lock pylock.toml
	assert_failure 1
	run mirror_files
	assert_output "$(printf '%s\n' "$lin" graph_cycle_a-1.0-py3-none-any.whl | sort)"
	# The refused file is named, with the reason, in an error record.
	run jq -c 'select(.type=="error")' closure.out
	assert_output --partial "\"name\":\"graph-native\""
	assert_output --partial "\"file\":\"$win\""
	assert_output --partial "disagrees with upstream"
	# Served: pip finds exactly the locked file.
	nginx_start "$WEB"
	run "$PY" -m pip download --no-cache-dir --disable-pip-version-check --no-deps --only-binary=:all: \
		--index-url "$NGINX_URL/simple/" -d out --implementation cp --python-version 3.11 \
		--platform manylinux_2_17_x86_64 graph-native graph-cycle-a
	assert_success
	assert_equal "$(ls out | sort | tr '\n' ' ')" "$(printf '%s\n' "$lin" graph_cycle_a-1.0-py3-none-any.whl | sort | tr '\n' ' ')"
}

@test "1906 closure: bad input names file and line; unknown projects and unsatisfiable specifiers are error records" {
	printf 'graph-cycle-a\n\ngraph-core >=1 ;; python_version\n' >bad.txt
	run --separate-stderr closure -r bad.txt -e cp311-manylinux-x86_64
	assert_failure 2
	assert_equal "$output" ""
	[[ "$stderr" == *"bad.txt:3: invalid marker"* ]] || fail "$stderr"
	printf 'pip @ https://example.invalid/pip.whl\n' >url.txt
	run --separate-stderr closure -r url.txt -e cp311-manylinux-x86_64
	assert_failure 2
	[[ "$stderr" == *"url.txt:1: URL and path requirements are not supported"* ]] || fail "$stderr"
	printf '[project\n' >bad.toml
	run --separate-stderr closure --pyproject bad.toml -e cp311-manylinux-x86_64
	assert_failure 2
	[[ "$stderr" == *"bad.toml:1: "* ]] || fail "$stderr"
	run closure -r bad.txt
	assert_failure 2

	printf 'no-such-project\ngraph-core>=9\ngraph-cycle-b\n' >req.txt
	run --separate-stderr closure -r req.txt -e cp311-manylinux-x86_64
	assert_failure 1
	has_record '.type=="error" and .name=="no-such-project" and (.reason | test("404"))' <<<"$output"
	has_record '.type=="error" and .name=="graph-core" and (.reason | test("no version matches .graph-core>=9. for cp311-manylinux-x86_64"))' <<<"$output"
	# The rest went on: the cycle is there.
	has_record '.type=="project" and .name=="graph-cycle-a"' <<<"$output"
	has_record '.type=="project" and .name=="graph-cycle-b"' <<<"$output"
}

@test "1907 closure: a closure past --max-projects stops with a clear message and writes nothing" {
	printf 'graph-app\n' >req.txt
	run --separate-stderr closure -r req.txt -e cp311-manylinux-x86_64 --max-projects 3
	assert_failure 3
	assert_equal "$output" ""
	[[ "$stderr" == *"more than 3 projects"* ]] || fail "$stderr"
	run --separate-stderr closure -r req.txt -e cp311-manylinux-x86_64 --max-projects 7
	assert_success
	assert_equal "$(jq -r .name <<<"$output" | wc -l)" 7
}

@test "1908 closure: as a stage after pkg-resolve, input records are used and those outside the closure dropped" {
	printf 'graph-cycle-a\n' >req.txt
	admin reset-stats
	run --separate-stderr bash -c "printf '%s\n' '{\"name\":\"graph-cycle-a\",\"serial\":1}' '{\"name\":\"demo-pkg\",\"serial\":1}' |
		pkg-resolve -u '$EMU_URL' --allow-non-https | pkg-closure -u '$EMU_URL' --allow-non-https -r req.txt -e cp312-win-amd64"
	assert_success
	assert_equal "$(jq -r .name <<<"$output" | tr '\n' ' ')" "graph-cycle-a graph-cycle-b "
	# graph-cycle-a's document was fetched once (by pkg-resolve), not again.
	assert_equal "$(emu_log | grep -c '"/pypi/graph-cycle-a/json"')" 1
}

@test "1909 closure: an upstream change (a new version, a new dependency) is followed on the next run" {
	printf 'graph-app\n' >req.txt
	mirror_closure -r req.txt -e cp311-manylinux-x86_64
	run mirror_files
	refute_output --partial graph_fresh
	admin new-project name=graph-fresh version=1.0
	admin new-release name=graph-core version=2.1 requires_python='>=3.8' 'requires=graph-cycle-a>=1|graph-fresh>=1' sdist=0
	mirror_closure -r req.txt -e cp311-manylinux-x86_64
	run mirror_files
	assert_output --partial graph_core-2.1-py3-none-any.whl
	assert_output --partial graph_fresh-1.0-py3-none-any.whl
	# sdist of graph-fresh: it has a wheel for the environment, so not kept.
	refute_output --partial graph_fresh-1.0.tar.gz
	grep -q '"name":"graph-fresh"' synced.out
}

@test "1910 closure: --help and the man page list the same options; usage errors" {
	run pkg-closure --help
	assert_success
	help_opts=$(grep -oE -- '--[a-z][a-z-]+' <<<"$output" | sort -u | grep -vxE -- '--(help|version|verbose|quiet)')
	[[ -n "$help_opts" ]]
	for o in $help_opts; do
		grep -qE -- "^\.It Fl.*-${o#--}( |\$)" "$BATS_TEST_DIRNAME/../man/pkg-closure.1" || fail "man page lacks $o"
	done
	man_opts=$(grep -oE '^\.It Fl (-[a-z-]+|[a-zA-Z] Ar [a-z]+ , Fl -[a-z-]+)' "$BATS_TEST_DIRNAME/../man/pkg-closure.1" |
		grep -oE -- '-[a-z-]+$' | sed 's/^/-/' | sort -u)
	[[ -n "$man_opts" ]]
	for o in $man_opts; do
		[[ "$output" == *"$o"* ]] || fail "--help lacks $o"
	done
	run pkg-closure -e cp311-manylinux-x86_64
	assert_failure 2
	assert_output --partial "no requirement source"
	printf 'x\n' >req.txt
	run pkg-closure -r req.txt -e cp27-plan9-vax
	assert_failure 2
	assert_output --partial "target environment 'cp27-plan9-vax'"
}

@test "1911 closure: [closure] in the configuration becomes pkg-closure's options (mirror-config)" {
	printf 'graph-cycle-a\n' >req.txt
	cat >pm.conf <<-EOF
		[mirror]
		directory = $MIRROR
		[closure]
		requirements = $BATS_TEST_TMPDIR/req.txt
		environments = cp311-manylinux-x86_64
		    cp312-win-amd64
		newest = 1
		max-projects = 50
	EOF
	run --separate-stderr mirror-config -c pm.conf
	assert_success
	eval "$output"
	[ "$PM_CLOSURE" = 1 ]
	eval "args=($PM_CLOSURE_ARGS)"
	assert_equal "${args[*]}" "-r $BATS_TEST_TMPDIR/req.txt -e cp311-manylinux-x86_64 -e cp312-win-amd64 --newest 1 --max-projects 50"
	run --separate-stderr closure "${args[@]}"
	assert_success
	assert_equal "$(jq -r .name <<<"$output" | tr '\n' ' ')" "graph-cycle-a graph-cycle-b "
	# A bad environment is refused, naming section and key.
	printf '[mirror]\ndirectory = %s\n[closure]\nrequirements = r.txt\nenvironments = cp311-plan9-x86_64\n' "$MIRROR" >bad.conf
	run --separate-stderr mirror-config -c bad.conf
	assert_failure 2
	[[ "$stderr" == *"[closure] environments: target environment 'cp311-plan9-x86_64'"* ]] || fail "$stderr"
	# No [closure]: off.
	printf '[mirror]\ndirectory = %s\n' "$MIRROR" >plain.conf
	eval "$(mirror-config -c plain.conf 2>/dev/null)"
	[ "$PM_CLOSURE" = 0 ]
	[ -z "$PM_CLOSURE_ARGS" ]
}

@test "1912 closure: --cache reads each version's metadata once, ever; the closure is the same" {
	printf 'graph-app\n' >req.txt
	admin reset-stats
	run --separate-stderr closure -r req.txt -e cp311-manylinux-x86_64 --cache cache
	assert_success
	first=$output
	[[ "$stderr" == *"metadata fetches, 0 metadata from the cache"* ]] || fail "$stderr"
	fetched=$(emu_log | grep -c '\.metadata"')
	[ "$fetched" -gt 5 ]
	# Content-addressed: each entry is named by the sha256 of its .metadata.
	for f in cache/*/*; do
		n=${f##*/}
		jq -e --arg n "$n" -s 'any(.[].files[]?; .core_metadata == $n)' <<<"$first" >/dev/null || fail "$f names no metadata"
	done
	admin reset-stats
	run --separate-stderr closure -r req.txt -e cp311-manylinux-x86_64 --cache cache
	assert_success
	assert_equal "$output" "$first"
	[[ "$stderr" == *" 0 metadata fetches, $fetched metadata from the cache"* ]] || fail "$stderr"
	assert_equal "$(emu_log | grep -c '\.metadata"')" 0
}

@test "1913 closure: --input-roots makes every input project a root (a demanded project pulls its closure); a refused record names its project" {
	run --separate-stderr pkg-closure -u "$EMU_URL" --allow-non-https --input-roots -e cp312-manylinux-x86_64 \
		<<<'{"type":"project","name":"graph-app","serial":0}
{"type":"project","name":"graph-core","serial":"x"}
{"type":"target","serial":9}'
	assert_failure 1
	local out=$output
	# graph-app and what it needs on that environment, nothing else.
	has_record '.type == "project" and .name == "graph-app"' <<<"$out"
	has_record '.type == "project" and .name == "graph-core"' <<<"$out"
	has_record '.type == "project" and .name == "graph-cycle-a"' <<<"$out"
	run ! has_record '.type == "project" and .name == "graph-win"' <<<"$out"
	# The refused record (a serial that is not a number) comes out as an
	# error record naming its project.
	has_record '.type == "error" and .name == "graph-core" and .tool == "pkg-closure"' <<<"$out"
	# The target stays last.
	[ "$(tail -n 1 <<<"$out" | jq -r .type)" = target ]
}

@test "1914 closure: a dropped requirement prunes what nothing needs any more (files, pages, root), within max-deletions" {
	printf 'graph-app\n' >req.txt
	local section="[closure]
requirements = $BATS_TEST_TMPDIR/req.txt
environments = cp311-manylinux-x86_64"
	CONF="$BATS_TEST_TMPDIR/pm.conf"
	write_config "$CONF" "$MIRROR" "$BATS_TEST_TMPDIR/log" "" "" "$section"
	run pm mirror
	assert_success
	# The projects outside the closure were left out, not lost (pkg-closure --dropped).
	refute_output --partial 'never reached'
	local wide narrow before
	wide=$(closure -r req.txt -e cp311-manylinux-x86_64 2>/dev/null | jq -r .name | sort)
	assert_equal "$(ls "$WEB/simple" | grep -v '^index' | sort)" "$wide"
	[ "$(wc -l <<<"$wide")" -gt 2 ] || fail "graph-app's closure is only: $wide"
	before=$(mirror_files)
	# Narrowed to graph-cycle-a: the rest would go, but the cap holds it all back.
	printf 'graph-cycle-a\n' >req.txt
	narrow=$(printf 'graph-cycle-a\ngraph-cycle-b\n')
	write_config "$CONF" "$MIRROR" "$BATS_TEST_TMPDIR/log" "" "max-deletions = 1" "$section"
	run pm mirror
	assert_failure 1
	assert_output --partial 'no longer in the requirement closure'
	assert_output --partial 'deletion cap of 1 files reached'
	# The cap is per run: at most one file went, the rest was held back.
	local gone
	gone=$(comm -13 <(mirror_files) <(printf '%s\n' "$before") | wc -l)
	[ "$gone" -le 1 ] || fail "$gone files deleted under a cap of 1"
	[ -z "$(comm -23 <(mirror_files) <(printf '%s\n' "$before"))" ] || fail "files appeared"
	# Without the cap: what left the closure is gone from disk, pages and root.
	write_config "$CONF" "$MIRROR" "$BATS_TEST_TMPDIR/log" "" "" "$section"
	run pm mirror
	assert_success
	assert_equal "$(ls "$WEB/simple" | grep -v '^index' | sort)" "$narrow"
	assert_equal "$(jq -r '.projects[].name' "$WEB/simple/index.v1_json" | sort)" "$narrow"
	run mirror_files
	refute_output --regexp '^graph_(app|core|extras|native|fast)'
	assert_output --regexp '^graph_cycle_a-'
	# An idle run prunes nothing more and keeps what is needed.
	run pm mirror
	assert_success
	assert_equal "$(ls "$WEB/simple" | grep -v '^index' | sort)" "$narrow"
}
