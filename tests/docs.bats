#!/usr/bin/env bats
# 19NN: the documentation against the programs it documents.

load lib/common

# Compares the options a program's --help lists with those its mdoc page
# documents (.Fl). Prints one line per difference; exits 1 if there is one.
# Every option in the help must be in the page. The other way, only the
# options the page itself lists (its SYNOPSIS and .It entries): its prose
# may name another program's options.
# Usage: compare_options NAME HELP_FILE MAN_FILE
compare_options() {
	"$PY" - "$@" <<-'EOF'
	import re, sys
	name, help_file, man_file = sys.argv[1:4]
	help_text = open(help_file).read()
	# -x and --long-name standing on their own (not inside a word such as
	# non-https or X-PyPI-Last-Serial).
	opt = re.compile(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*|-[A-Za-z])(?![\w-])")
	in_help = set(opt.findall(help_text))
	macro = re.compile(r"^[A-Z][a-z]{1,2}$")
	anywhere, listed = set(), set()
	section = ""
	for line in open(man_file):
	    if not line.startswith("."):
	        continue
	    words = line[1:].split()
	    if not words:
	        continue
	    if words[0] == "Sh":
	        section = " ".join(words[1:])
	        continue
	    listing = words[0] == "It" or section == "SYNOPSIS"
	    in_fl = False
	    for w in words:
	        if w == "Fl":
	            in_fl = True
	        elif macro.match(w) or w in ("Ar",):
	            in_fl = False
	        elif in_fl and re.match(r"^-?[A-Za-z0-9][A-Za-z0-9-]*$", w):
	            # .Fl vq in a synopsis: -v and -q, bundled
	            opts = ["-" + c for c in w] if w.isalpha() and len(w) > 1 else ["-" + w]
	            anywhere.update(opts)
	            if listing:
	                listed.update(opts)
	bad = 0
	for o in sorted(in_help - anywhere):
	    print(f"{name}: {o} is in --help but not in {man_file}")
	    bad = 1
	for o in sorted(listed - in_help):
	    print(f"{name}: {o} is in {man_file} but not in --help")
	    bad = 1
	if not in_help:
	    print(f"{name}: --help lists no option")
	    bad = 1
	sys.exit(bad)
	EOF
}

@test "1901 docs: every option a tool's --help lists is in its man page, and every option the page lists is in --help" {
	local top="$BATS_TEST_DIRNAME/.." bin=${PYPI_MIRROR_BIN:-$BATS_TEST_DIRNAME/../build}
	local -a progs=() problems=()
	local d name exe
	# Every tool the Makefile builds (one per folder under tools/), and the wrapper.
	for d in "$top"/tools/*/; do
		name=${d%/}
		name=${name##*/}
		[ "$name" = lib ] && continue
		progs+=("$name")
	done
	progs+=(pypi-mirror)
	[ ${#progs[@]} -ge 8 ] || fail "found only ${progs[*]}"
	for name in "${progs[@]}"; do
		if [ "$name" = pypi-mirror ]; then exe="$top/scripts/pypi-mirror"; else exe="$bin/$name"; fi
		[ -x "$exe" ] || { problems+=("$name: not built ($exe)"); continue; }
		[ -f "$top/man/$name.1" ] || { problems+=("$name: no man page man/$name.1"); continue; }
		run "$exe" --help
		[ "$status" -eq 0 ] || { problems+=("$name: --help exits $status"); continue; }
		printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/$name.help"
		run compare_options "$name" "$BATS_TEST_TMPDIR/$name.help" "$top/man/$name.1"
		[ "$status" -eq 0 ] || problems+=("$output")
	done
	[ ${#problems[@]} -eq 0 ] || fail "$(printf '%s\n' "${problems[@]}")"
	echo "# ${#progs[@]} programs: ${progs[*]}" >&3
}

@test "1902 docs: a tool's options file makes its option table only when its usage names every option it declares" {
	local top="$BATS_TEST_DIRNAME/.." spec=$BATS_TEST_TMPDIR/options
	# A real one: serial-check's three options of its own, each with its
	# constant and argument, the common ones last, the usage text as printed.
	run awk -v prog=serial-check -f "$top/tools/lib/optgen.awk" "$top/tools/serial-check/options"
	assert_success
	assert_line '    {"stale-file", required_argument, nullptr, kOptStaleFile},'
	assert_line '    {"stale-fd", required_argument, nullptr, kOptStaleFd},'
	assert_line '    {"max-rounds", required_argument, nullptr, kOptMaxRounds},'
	assert_line '    PM_COMMON_LONGOPTS,'
	assert_line --partial '"usage: serial-check [--stale-file FILE | --stale-fd N] [--max-rounds K] [-v|-q]\n"'
	# An option the usage does not name: no table (the build stops).
	printf '%s\n' '-n, --dry-run' '--rate N' '--netrc[=FILE]' 'usage: t [-n|--dry-run] [--netrc[=FILE]]' >"$spec"
	run awk -v prog=t -f "$top/tools/lib/optgen.awk" "$spec"
	assert_failure
	assert_output --partial "$spec: --rate is not in the usage text"
	# Named, it is there, with its kind of argument.
	printf '%s\n' '-n, --dry-run' '--rate N' '--netrc[=FILE]' 'usage: t [-n|--dry-run] [--rate N] [--netrc[=FILE]]' >"$spec"
	run awk -v prog=t -f "$top/tools/lib/optgen.awk" "$spec"
	assert_success
	assert_line '    {"dry-run", no_argument, nullptr, '"'n'"'},'
	assert_line '    {"rate", required_argument, nullptr, kOptRate},'
	assert_line '    {"netrc", optional_argument, nullptr, kOptNetrc},'
	# A line that is no declaration, and a letter taken twice.
	printf '%s\n' '--rate N M' 'usage: t [--rate N]' >"$spec"
	run awk -v prog=t -f "$top/tools/lib/optgen.awk" "$spec"
	assert_failure
	assert_output --partial "$spec:1: after --rate"
	printf '%s\n' '-r, --rate N' '-r, --retries N' 'usage: t [--rate N] [--retries N]' >"$spec"
	run awk -v prog=t -f "$top/tools/lib/optgen.awk" "$spec"
	assert_failure
	assert_output --partial "$spec:2: -r is taken"
}
