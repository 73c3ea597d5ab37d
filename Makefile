# pypi-mirror: GNU Make build.
#   make            build every tool into build/
#   make check      install missing Debian packages, build, run every test
#   make demo       the main job against the embedded PyPI emulator
#   make bench      benchmarks (bench/), not part of the test suite
#   make install PREFIX=/usr/local DESTDIR=...
#   make deb        the Debian package, into build-deb/

VERSION    := 0.1.0
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DESTDIR    ?=
BUILD      ?= build

CXX        ?= g++
AWK        ?= awk
CXXFLAGS   ?= -O2 -g
CXXFLAGS   += -std=c++20 -Wall -Wextra -Werror -MMD -MP -pthread
CPPFLAGS   += -Itools/lib -DPM_VERSION='"$(VERSION)"'
LDLIBS     += -lcurl -lcrypto -lexpat -lre2 -linih -lz -lgumbo -pthread
# toml++ (Debian libtomlplusplus-dev), compiled-library mode: pkg-config
# gives -DTOML_HEADER_ONLY=0 -DTOML_SHARED_LIB=1 and -ltomlplusplus.
CPPFLAGS   += $(shell pkg-config --cflags tomlplusplus 2>/dev/null)
LDLIBS     += $(or $(shell pkg-config --libs tomlplusplus 2>/dev/null),-ltomlplusplus)
# Every tool is linked with every library; keep only those it uses (a tool
# that loads libcurl for nothing spends tens of milliseconds starting).
LDFLAGS    += -Wl,--as-needed

# SANITIZE=1 builds everything with AddressSanitizer + UBSan.
ifeq ($(SANITIZE),1)
CXXFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS    += -fsanitize=address,undefined
BUILD      := build-san
endif

TOOLS      := $(notdir $(patsubst %/,%,$(filter-out tools/lib/,$(wildcard tools/*/))))
SCRIPTS    := $(wildcard scripts/pypi-mirror)
LIB_SRC    := $(wildcard tools/lib/*.cc)
LIB_OBJ    := $(LIB_SRC:tools/lib/%.cc=$(BUILD)/lib/%.o)
LIB        := $(BUILD)/libpypimirror.a
BINS       := $(TOOLS:%=$(BUILD)/%)
UNIT_SRC   := $(wildcard tests/unit/*_test.cc)
UNIT_BIN   := $(BUILD)/unit-tests
MANPAGES   := $(wildcard man/*.[1-8])

.PHONY: all deps check check-san unit demo bench install clean fuzz
all: $(BINS)

$(BUILD)/lib/%.o: tools/lib/%.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

# Built afresh each time: `ar rcs` into an existing archive would keep the
# member of a source since deleted (and its symbols would still link).
$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# Each tool's command line is declared once, in tools/NAME/options: its
# getopt table, its constants and its --help text are made of that file
# into $(BUILD)/gen/NAME/options.h (tools/lib/optgen.awk says how), which
# the tool's objects include and depend on.
$(BUILD)/gen/%/options.h: tools/%/options tools/lib/optgen.awk
	@mkdir -p $(dir $@)
	$(AWK) -v prog=$* -f tools/lib/optgen.awk $< >$@.tmp && mv $@.tmp $@

# One program per folder under tools/: tools/NAME/*.cc -> build/NAME
.SECONDARY:
.SECONDEXPANSION:
tool_of = $(firstword $(subst /, ,$(1)))
$(BUILD)/tools/%.o: tools/%.cc $(BUILD)/gen/$$(call tool_of,$$*)/options.h
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) -I$(BUILD)/gen/$(call tool_of,$*) $(CXXFLAGS) -c -o $@ $<

tool_objs = $(patsubst tools/%.cc,$(BUILD)/tools/%.o,$(wildcard tools/$(1)/*.cc))
$(BINS): $(BUILD)/%: $$(call tool_objs,$$*) $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS)

# Libraries these tools load at their first use, not at every start
# (tools/lib/lazy/lazy.h): run in every cron run (mirror-state, mirror-config)
# or every run that syncs something (index-write, pkg-filter), they need
# HTTP, hashing and XML only for a mirror in a bucket (pkg-filter hashes its
# rules for --fingerprint, once a run). Linked before the archive, the
# forwarders leave -lcurl, -lcrypto and -lexpat unneeded (--as-needed).
LAZY_ALL   := $(BUILD)/lib/lazy/curl.o $(BUILD)/lib/lazy/crypto.o $(BUILD)/lib/lazy/expat.o
$(BUILD)/mirror-state $(BUILD)/index-write $(BUILD)/pkg-filter: $(LAZY_ALL)
$(BUILD)/mirror-config: $(BUILD)/lib/lazy/crypto.o $(BUILD)/lib/lazy/expat.o

$(BUILD)/unit/%.o: tests/unit/%.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

$(UNIT_BIN): $(UNIT_SRC:tests/unit/%.cc=$(BUILD)/unit/%.o) $(LIB)
	$(CXX) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS) -lgtest -lgtest_main -pthread

# libFuzzer harnesses (clang): tests/fuzz/fuzz_NAME.cc -> build-fuzz/fuzz_NAME
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.cc)
FUZZ_BINS  := $(FUZZ_SRC:tests/fuzz/%.cc=build-fuzz/%)
FUZZ_CXX   ?= clang++
FUZZ_FLAGS := -std=c++20 -g -O1 -Itools/lib -DPM_VERSION='"$(VERSION)"'
FUZZ_SAN   := address,undefined
# Objects are compiled without the fuzzer's main (-fsanitize=fuzzer at the
# link only) and, like the other builds, with their header dependencies
# tracked (-MMD: a .d next to each object, read at the end of this file).
FUZZ_CC    := $(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -MMD -MP
FUZZ_LIB   := $(LIB_SRC:tools/lib/%.cc=build-fuzz/lib/%.o)

build-fuzz/lib/%.o: tools/lib/%.cc
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -c -o $@ $<

build-fuzz/fuzz_%.o: tests/fuzz/fuzz_%.cc
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -c -o $@ $<

build-fuzz/fuzz_%: build-fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< $(FUZZ_LIB) $(LDLIBS)

fuzz: $(FUZZ_BINS)

deps:
	@scripts/install-deps

unit: $(UNIT_BIN)

# Everything twice: the unit tests and the Bats suites against the plain
# build (what is installed), then against the AddressSanitizer + UBSan build
# (any sanitizer report counts as a failure). SAN=0 skips the second pass of
# the Bats suites (the sanitized unit tests still run).
SAN ?= 1
check: deps
	@$(MAKE) --no-print-directory -j2 all unit
	@$(MAKE) --no-print-directory -j2 SANITIZE=1 $(if $(filter 1,$(SAN)),all) unit
	@BUILD=$(BUILD) SAN_UNIT=build-san/unit-tests $(if $(filter 1,$(SAN)),SAN_BUILD=build-san) tests/run

# Only the sanitized pass.
check-san: deps
	@$(MAKE) --no-print-directory -j2 SANITIZE=1 all unit
	@BUILD=build-san tests/run

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tests/demo

# The idle and incremental runs (and the on-disk sync) are also measured
# with the tools of BENCH_BEFORE, built once into bench/out/: 9b59460 is the
# tree before the state tool and the object store (issues 12 and 17: "no
# slower than before"). BENCH_BEFORE= leaves it out.
BENCH_BEFORE ?= 9b59460
bench: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) BENCH_BEFORE=$(BENCH_BEFORE) bench/run

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS) $(SCRIPTS) $(DESTDIR)$(BINDIR)/
	for m in $(MANPAGES); do s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

# make deb: the Debian package (debian/), built with dpkg-buildpackage -us -uc
# -b in a copy of this tree under build-deb/, where the packages land:
# build-deb/pypi-mirror_VERSION_ARCH.deb, also as build-deb/pypi-mirror.deb.
# Rebuilt only when a file it is made of changed. DEB_BUILD_OPTIONS=
# (empty) also builds and runs the unit tests inside the package build.
DEB_BUILD_OPTIONS ?= nocheck parallel=2
DEB_INPUTS  = Makefile $(shell find tools scripts man contrib debian -type f)
.PHONY: deb
deb: build-deb/pypi-mirror.deb
build-deb/pypi-mirror.deb: $$(DEB_INPUTS)
	@v=$$(dpkg-parsechangelog -S Version) && [ "$$v" = "$(VERSION)" ] || \
		{ echo "make deb: debian/changelog has $$v, the Makefile VERSION $(VERSION)" >&2; exit 1; }
	rm -rf build-deb/src build-deb/pypi-mirror*_* && mkdir -p build-deb/src
	tar -c --exclude=./.git --exclude='./build*' --exclude=./demo --exclude=./bench/out . | tar -x -C build-deb/src
	cd build-deb/src && DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" dpkg-buildpackage -us -uc -b
	cp build-deb/pypi-mirror_$(VERSION)_$$(dpkg-architecture -qDEB_HOST_ARCH).deb $@
	rm -rf build-deb/src
	@echo "make deb: $@"

# Every directory this Makefile builds into: the plain, sanitized, fuzz and
# package builds, and BUILD when it was set to another one.
clean:
	rm -rf build build-san build-fuzz build-deb $(BUILD)

-include $(shell find $(BUILD) build-fuzz -name '*.d' 2>/dev/null)
