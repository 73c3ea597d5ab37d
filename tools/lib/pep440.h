// pep440.h - PEP 440 version identifiers and version specifiers, plus a
// minimal PEP 508 requirement-line parser, for the mirror's filter tools.
//
// What it does:
//   * parse() accepts every spelling PEP 440 normalizes (case, leading "v",
//     "-"/"_"/"." separators, alpha/beta/c/pre/preview/rev/r, implicit
//     numbers, implicit post "1.0-1", surrounding whitespace); str() prints
//     the canonical form.
//   * compare() implements the full PEP 440 ordering, including local labels.
//   * Specifier/SpecifierSet implement all operators (~= == != <= >= < > ===)
//     with the same pre-release rules as the `packaging` library's contains().
//
// Limits:
//   * No legacy (non-PEP 440) versions: they simply fail to parse.
//   * Every numeric component (epoch, release, pre/post/dev numbers, numeric
//     local segments) is limited to 18 significant decimal digits so it fits
//     in uint64_t; longer numbers make parse() fail instead of overflowing.
//   * Input is treated as ASCII; non-ASCII case folding / whitespace (which
//     Python's re module would honour) is not.
//   * parse_requirement() understands name, extras, version specifiers (bare
//     or parenthesized), markers and comments only. Extras and markers are
//     skipped, not evaluated; URL requirements ("name @ url") and pip options
//     are rejected.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pm::pep440 {

// One dot-separated piece of a local version label: all-digit segments are
// numbers, everything else is a lower-cased string.
using LocalSegment = std::variant<uint64_t, std::string>;

// Pre-release kinds in ascending order.
enum class PreKind : uint8_t { Alpha, Beta, RC };

struct PreRelease {
  PreKind kind = PreKind::Alpha;
  uint64_t number = 0;
};

struct Version {
  uint64_t epoch = 0;
  std::vector<uint64_t> release;  // never empty for a parsed version
  std::optional<PreRelease> pre;
  std::optional<uint64_t> post;
  std::optional<uint64_t> dev;
  std::vector<LocalSegment> local;  // empty == no local label

  std::string str() const;         // canonical normalized form
  std::string public_str() const;  // canonical form without "+local"
  std::string base_str() const;    // epoch and release only, e.g. "1!2.0"

  bool is_prerelease() const { return pre.has_value() || dev.has_value(); }
  bool is_postrelease() const { return post.has_value(); }
  bool is_devrelease() const { return dev.has_value(); }
  bool has_local() const { return !local.empty(); }
};

// Parses any PEP 440 spelling; nullopt if invalid.
std::optional<Version> parse(std::string_view s);

// PEP 440 ordering: <0, 0 or >0. Equality is semantic ("1.0" == "1.0.0").
int compare(const Version& a, const Version& b);

inline bool operator==(const Version& a, const Version& b) {
  return compare(a, b) == 0;
}
// Weak, not strong: equivalent versions may still print differently.
inline std::weak_ordering operator<=>(const Version& a, const Version& b) {
  return compare(a, b) <=> 0;
}

// True if s parses as a version and that version is a pre- or dev release.
bool is_prerelease_string(std::string_view s);

struct Specifier {
  std::string op;       // one of ~= == != <= >= < > ===
  std::string version;  // version text as written (trimmed), incl. any ".*"

  // Parsed form of `version` (wildcard removed). Unused for "===".
  // Build specifiers with parse_specifier(s) so these fields are consistent.
  Version parsed;
  bool wildcard = false;  // "==X.*" or "!=X.*"

  // Whether this specifier by itself admits pre-releases, i.e. it names a
  // pre-release with an operator other than "!=".
  bool allows_prereleases() const;

  // prereleases: nullopt -> use allows_prereleases(); true/false forces it.
  // (A plain bool argument converts implicitly.)
  bool contains(const Version& v,
                std::optional<bool> prereleases = std::nullopt) const;

  std::string str() const { return op + version; }
};

// Parses a single specifier such as ">= 1.0" or "==1.1.*".
std::optional<Specifier> parse_specifier(std::string_view s,
                                         std::string* error = nullptr);

struct SpecifierSet {
  std::vector<Specifier> specs;

  // Pre-releases are admitted if `prereleases` is true, or, when it is
  // nullopt, if any member specifier names a pre-release. An empty set
  // matches every version except (by default) pre-releases.
  bool contains(const Version& v,
                std::optional<bool> prereleases = std::nullopt) const;

  std::string str() const;  // members joined with ","
};

// Comma separated list, whitespace allowed: ">=1.0, !=1.3.*, <2".
// Empty input (or only commas/whitespace) gives an empty set.
std::optional<SpecifierSet> parse_specifiers(std::string_view s,
                                             std::string* error = nullptr);

// PEP 503 name normalization: lower-case, runs of "-_." become one "-".
std::string normalize_name(std::string_view name);

struct Requirement {
  std::string name;  // PEP 503 normalized
  SpecifierSet specs;
};

// Parses one requirements line, e.g. "requests>=2,<3",
// "name[extra] (>=1) ; python_version>'3'". "#" starts a comment. For a blank
// or comment-only line returns nullopt and leaves *error empty; for a bad
// line returns nullopt and sets *error.
std::optional<Requirement> parse_requirement(std::string_view line,
                                             std::string* error = nullptr);

}  // namespace pm::pep440
