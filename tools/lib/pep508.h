// pep508.h - PEP 508 dependency specifiers: requirement lines with extras,
// version specifiers (over pep440.h) and environment markers, and the
// evaluation of markers against a target environment.
//
// What it does:
//   * parse_requirement() reads "name [extras] (specifiers) ; marker" as it
//     appears in Requires-Dist, requirements files and pyproject.toml. A URL
//     requirement ("name @ https://...") is refused with that reason: a
//     mirror can only serve what the index has.
//   * parse_marker() builds an expression tree of and/or/comparisons;
//     Marker::evaluate() applies PEP 508's rules as the `packaging` library
//     does: a comparison whose right side is a valid PEP 440 version (and
//     whose operator is a version operator) compares versions, pre-releases
//     included; otherwise == != < <= > >= compare strings, "in"/"not in" test
//     substrings, and ~= / === on non-versions are false. "extra" compares
//     PEP 503-normalized names on both sides.
//
// Limits:
//   * Python's string escapes are not interpreted inside quoted strings
//     (PEP 508 has none).
//   * Legacy dotted variable names (os.name, sys.platform, platform.machine,
//     platform.version, platform.python_implementation, python_implementation)
//     are accepted as aliases, as packaging does.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pep440.h"

namespace pm::pep508 {

// Marker variable -> value, e.g. {"python_version","3.11"}. A variable the
// map lacks evaluates as "" ("extra" is supplied at evaluation time).
using Environment = std::map<std::string, std::string>;

// The marker variables PEP 508 defines (canonical names).
const std::vector<std::string>& marker_variables();

struct MarkerNode;

class Marker {
 public:
  Marker() = default;
  explicit Marker(std::shared_ptr<const MarkerNode> root) : root_(std::move(root)) {}
  bool empty() const { return !root_; }
  // An empty marker is true. extra: the extra being installed ("" if none).
  bool evaluate(const Environment& env, std::string_view extra = "") const;
  // Whether the marker mentions the "extra" variable anywhere.
  bool uses_extra() const;
  std::string str() const;  // canonical text, e.g. python_version >= "3.8"

 private:
  std::shared_ptr<const MarkerNode> root_;
};

// Parses a marker expression (the text after ';'). nullopt + *error on failure.
std::optional<Marker> parse_marker(std::string_view text,
                                   std::string* error = nullptr);

struct Requirement {
  std::string name;                 // PEP 503 normalized
  std::string display_name;         // as written
  std::vector<std::string> extras;  // normalized, sorted, unique
  pep440::SpecifierSet specs;
  Marker marker;

  // Whether it applies to env when the depending project is installed
  // with `extras` (empty: without extras). PEP 508: a marker naming extra
  // is true if it is true for one of them.
  bool applies(const Environment& env,
               const std::vector<std::string>& extras = {}) const;
  std::string str() const;
};

// Parses one requirement (no comments, no pip options). nullopt with *error.
std::optional<Requirement> parse_requirement(std::string_view text,
                                             std::string* error = nullptr);

}  // namespace pm::pep508
