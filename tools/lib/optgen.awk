# optgen.awk: a tool's command line, from the one file that declares it
# (tools/NAME/options), to the C++ header its main() includes
# (build/gen/NAME/options.h): the getopt_long table, a constant for each
# long-only option of the tool's own, and the --help text. The Makefile runs
#   awk -v prog=NAME -f tools/lib/optgen.awk tools/NAME/options > options.h
# and the tool passes kCommandLine to pm::parse_options (cli.h); its source
# keeps only what each option does.
#
# The options file, line by line, up to the first line that starts with
# "usage:":
#   # ...                  a comment (so is a blank line)
#   operands               the tool takes operands (else one is a usage error)
#   PM_CONFIG_LONGOPT      an option, or a group of them, that tools/lib owns
#                          (cli.h, http.h, url_policy.h): its macro
#   -n, --dry-run          an option of the tool's own; getopt_long returns
#                          the letter ('n') for one with a short form, else
#                          the constant kOptDryRun
#   --rate N               ... that takes an argument (any word after it)
#   --netrc[=FILE]         ... whose argument is optional
# From "usage:" to the end: the --help text, as it is printed; a line
# "@NAME" stands for the string macro NAME (PM_HTTP_USAGE). Each option of
# the tool's own must be named there. -h, -V, -v and -q (PM_COMMON_LONGOPTS)
# every tool takes: they are not declared.
#
# Plain POSIX awk (Debian's mawk): no gawk extensions.

function fail(msg) {
	printf "%s:%d: %s\n", FILENAME, FNR, msg > "/dev/stderr"
	failed = 1
	exit 1
}

# --s3-upload -> kOptS3Upload
function constant(name,    parts, n, i, s) {
	n = split(name, parts, "-")
	s = "kOpt"
	for (i = 1; i <= n; i++) s = s toupper(substr(parts[i], 1, 1)) substr(parts[i], 2)
	return s
}

function c_string(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	gsub(/\t/, "\\t", s)
	return "\"" s "\\n\""
}

BEGIN {
	if (prog == "") {
		print "optgen.awk: run it with -v prog=NAME" > "/dev/stderr"
		failed = 1
		exit 1
	}
	n_entries = 0  # table entries, in the file's order
	n_own = 0      # options of the tool's own without a short form
	n_usage = 0
	in_usage = 0
	operands = "false"
}

!in_usage && /^usage:/ { in_usage = 1 }

in_usage {
	usage[++n_usage] = $0
	next
}

/^#/ || /^[ \t]*$/ { next }

/^operands$/ { operands = "true"; next }

/^PM_[A-Z0-9_]+$/ {
	entry[++n_entries] = $0
	next
}

{
	line = $0
	short = ""
	if (line ~ /^-[A-Za-z0-9], /) {
		short = substr(line, 2, 1)
		line = substr(line, 5)
	}
	if (line !~ /^--[a-z0-9][a-z0-9-]*/) fail("not an option, a PM_ macro, operands or usage: " $0)
	name = line
	sub(/^--/, "", name)
	sub(/[^a-z0-9-].*$/, "", name)
	rest = substr(line, length(name) + 3)
	if (rest == "") arg = "no_argument"
	else if (rest ~ /^\[=[^ ]+\]$/) arg = "optional_argument"
	else if (rest ~ /^ [^ ]+$/) arg = "required_argument"
	else fail("after --" name ": an argument word, [=WORD] or nothing, not '" rest "'")
	if (name in seen) fail("--" name " is declared twice")
	seen[name] = 1
	if (short != "") {
		if (short in seen_short || short ~ /^[hVvq]$/) fail("-" short " is taken")
		seen_short[short] = 1
		value = "'" short "'"
	} else {
		value = constant(name)
		own[++n_own] = value
	}
	entry[++n_entries] = "{\"" name "\", " arg ", nullptr, " value "}"
	named[name] = 1
}

END {
	if (failed) exit 1
	if (n_usage == 0) {
		printf "%s: no usage: line (the --help text)\n", FILENAME > "/dev/stderr"
		exit 1
	}
	# Every option the tool declares is in its --help (which tests/docs.bats
	# holds against the man page).
	text = ""
	for (i = 1; i <= n_usage; i++) text = text usage[i] "\n"
	for (name in named) {
		if (!match(text, "--" name "([^a-z0-9-]|$)")) {
			printf "%s: --%s is not in the usage text\n", FILENAME, name > "/dev/stderr"
			exit 1
		}
	}
	if (n_own > 255) {
		printf "%s: more than 255 long-only options\n", FILENAME > "/dev/stderr"
		exit 1
	}

	printf "// %s's command line: made by tools/lib/optgen.awk from tools/%s/options (edit that).\n", prog, prog
	print "#pragma once"
	print "#include \"cli.h\""
	print "#include \"url_policy.h\""
	print ""
	print "namespace {"
	print ""
	if (n_own > 0) {
		# Above 255 (no char), below tools/lib's own constants (0x1000 up).
		printf "enum : int {\n"
		for (i = 1; i <= n_own; i++) printf "\t%s%s,\n", own[i], i == 1 ? " = 0x800" : ""
		print "};"
		print ""
	}
	print "const option kLongopts[] = {"
	for (i = 1; i <= n_entries; i++) printf "    %s,\n", entry[i]
	print "    PM_COMMON_LONGOPTS,"
	print "    {nullptr, 0, nullptr, 0},"
	print "};"
	print ""
	print "const char kUsage[] ="
	for (i = 1; i <= n_usage; i++) {
		if (usage[i] ~ /^@[A-Z_][A-Z0-9_]*$/) printf "    %s", substr(usage[i], 2)
		else printf "    %s", c_string(usage[i])
		printf "%s\n", i == n_usage ? ";" : ""
	}
	print ""
	printf "const pm::CommandLine kCommandLine = {kLongopts, kUsage, %s};\n", operands
	print ""
	print "} // namespace"
}
