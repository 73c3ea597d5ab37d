#!/usr/bin/env bats
# 09NN: every libFuzzer harness runs for a bounded time over its seed corpus
# (tests/fuzz/corpus/NAME) and must find no crash, leak or sanitizer error.
# FUZZ_SECONDS sets the budget per harness (default 10).

load lib/common

setup_file() {
	cd "$BATS_TEST_DIRNAME/.."
	make --no-print-directory fuzz >"$BATS_FILE_TMPDIR/build.log" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/build.log" >&3
		return 1
	}
}

run_fuzzer() {
	local name=$1
	cd "$BATS_TEST_DIRNAME/.."
	local corpus="$BATS_TEST_TMPDIR/corpus"
	mkdir -p "$corpus"
	cp tests/fuzz/corpus/"$name"/* "$corpus"/ || fail "no seed corpus in tests/fuzz/corpus/$name"
	run build-fuzz/fuzz_"$name" -max_total_time="${FUZZ_SECONDS:-10}" -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix="$BATS_TEST_TMPDIR/" "$corpus"
	if [ "$status" -ne 0 ]; then
		echo "$output" | tail -40
		return 1
	fi
	[[ "$output" == *"Done "* ]]
}

@test "0901 fuzz: NDJSON reader and record validation" { run_fuzzer ndjson; }
@test "0902 fuzz: names, filenames, package paths, URLs, HTML escaping" { run_fuzzer names; }
@test "0903 fuzz: PEP 440 versions, ordering and specifiers" { run_fuzzer pep440; }
@test "0904 fuzz: XML-RPC response parser (streaming, entity bombs, nesting)" { run_fuzzer xmlrpc; }
@test "0905 fuzz: upstream project JSON -> record -> HTML/JSON pages" { run_fuzzer project_json; }
@test "2250 fuzz: upstream Simple page (PEP 503 HTML via gumbo, PEP 691 JSON) -> record -> pages" { run_fuzzer simple_page; }
@test "0906 fuzz: PEP 508 requirements, markers, target environments" { run_fuzzer pep508; }
