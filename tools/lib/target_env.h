// Target environments for closures: what a Python installation on some
// platform reports as PEP 508 marker values, and which wheel tags (PEP 425,
// PEP 600 manylinux, PEP 656 musllinux, macOS) it accepts, computed the way
// pip's `packaging.tags.sys_tags()` orders them for that interpreter.
//
// Spelling: IMPL PYVER - PLATFORM - MACHINE, e.g.
//   cp311-manylinux-x86_64   CPython 3.11, glibc Linux (manylinux_2_5..2_39)
//   cp312-musllinux-aarch64  CPython 3.12, musl Linux (musllinux_1_0..1_2)
//   cp312-win-amd64          CPython 3.12, 64-bit Windows (win32, arm64 too)
//   cp313-macos-arm64        CPython 3.13, macOS 11..15 on Apple silicon
//   pp310-manylinux-x86_64   PyPy 3.10 (pure-Python and pp310 tags)
// PYVER is 3XY ("311") or dotted with a patch level ("3.11.7"); without
// one, python_full_version is X.Y.0.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "pep508.h"

namespace pm {

struct TargetEnv {
	std::string spec;   // as given, canonical ("cp311-manylinux-x86_64")
	std::string impl;   // "cp" or "pp"
	int major = 3, minor = 0, patch = 0;
	std::string os;      // manylinux | musllinux | win | macos
	std::string machine; // x86_64, aarch64, i686, amd64, win32, arm64, ...
	pep508::Environment markers;
	// Accepted tags "py-abi-platform", most preferred first, and as a set.
	std::vector<std::string> tags;
	std::set<std::string> tag_set;

	// Whether a wheel with this filename installs here (any of its
	// compressed tag triples is accepted). False for non-wheels.
	bool accepts_wheel(const std::string &filename) const;
	// Whether a file's Requires-Python admits this interpreter (empty: yes;
	// unparsable: yes, as pip does).
	bool accepts_python(const std::string &requires_python) const;
};

// Parses a spelling as above; false with error naming what is wrong.
bool parse_target_env(const std::string &text, TargetEnv &env, std::string &error);

} // namespace pm
