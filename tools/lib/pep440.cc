// pep440.cc - see pep440.h.
#include "pep440.h"

#include <algorithm>
#include <array>
#include <utility>

#include "names.h"
#include "text.h"

namespace pm::pep440 {
namespace {

// 18 decimal digits always fit in uint64_t (max ~1.8e19); see pep440.h.
constexpr size_t kMaxDigits = 18;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); }
bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}
bool is_sep(char c) { return c == '-' || c == '_' || c == '.'; }
void set_error(std::string* error, std::string msg) {
  if (error) *error = std::move(msg);
}

// Converts an all-digit string; nullopt if it has more than kMaxDigits
// significant digits. Leading zeros are insignificant ("0001" == 1).
std::optional<uint64_t> to_number(std::string_view digits) {
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  if (digits.empty() || digits.size() > kMaxDigits) return std::nullopt;
  uint64_t v = 0;
  for (char c : digits) v = v * 10 + uint64_t(c - '0');
  return v;
}

// Recursive-descent equivalent of the PEP 440 / `packaging` version regex.
// The regex's optional parts never need real backtracking: each optional
// component is recognised by its label (or "-<digit>" for the implicit post
// release), so we only rewind the cursor when a label is absent. Labels are
// tried longest first ("preview" before "pre", "alpha" before "a"); no label
// is a prefix of a different label's continuation, so this picks the same
// match the regex would.
class VersionParser {
 public:
  explicit VersionParser(std::string_view lowered) : s_(lowered) {}

  std::optional<Version> run() {
    Version v;
    if (peek() == 'v') ++pos_;
    if (!parse_epoch_and_release(v)) return std::nullopt;
    parse_pre(v);
    parse_post(v);
    parse_dev(v);
    if (peek() == '+' && !parse_local(v)) return std::nullopt;
    if (pos_ != s_.size() || overflow_) return std::nullopt;
    return v;
  }

 private:
  char peek(size_t off = 0) const {
    return pos_ + off < s_.size() ? s_[pos_ + off] : '\0';
  }
  bool eat_word(std::string_view w) {
    if (s_.substr(pos_).starts_with(w)) {
      pos_ += w.size();
      return true;
    }
    return false;
  }
  void eat_optional_sep() {
    if (is_sep(peek())) ++pos_;
  }
  // Reads a digit run if there is one. Overlong numbers are remembered and
  // fail the whole parse at the end: every digit run outside the local
  // label is a numeric component, so there is no valid reading of it.
  std::optional<uint64_t> number() {
    size_t start = pos_;
    while (is_digit(peek())) ++pos_;
    if (pos_ == start) return std::nullopt;
    auto n = to_number(s_.substr(start, pos_ - start));
    if (!n) {
      overflow_ = true;
      return uint64_t{0};
    }
    return n;
  }

  bool parse_epoch_and_release(Version& v) {
    auto first = number();
    if (!first) return false;
    if (peek() == '!') {
      ++pos_;
      v.epoch = *first;
      first = number();
      if (!first) return false;
    }
    v.release.push_back(*first);
    // A '.' only continues the release if a digit follows; otherwise it is
    // the separator in front of a pre/post/dev label.
    while (peek() == '.' && is_digit(peek(1))) {
      ++pos_;
      v.release.push_back(*number());
    }
    return true;
  }

  void parse_pre(Version& v) {
    static constexpr std::array<std::pair<std::string_view, PreKind>, 8>
        kLabels = {{{"preview", PreKind::RC},
                    {"alpha", PreKind::Alpha},
                    {"beta", PreKind::Beta},
                    {"pre", PreKind::RC},
                    {"rc", PreKind::RC},
                    {"a", PreKind::Alpha},
                    {"b", PreKind::Beta},
                    {"c", PreKind::RC}}};
    size_t save = pos_;
    eat_optional_sep();
    for (const auto& [word, kind] : kLabels) {
      if (eat_word(word)) {
        eat_optional_sep();
        v.pre = PreRelease{kind, number().value_or(0)};
        return;
      }
    }
    pos_ = save;
  }

  void parse_post(Version& v) {
    // Implicit post release: "1.0-1" means "1.0.post1".
    if (peek() == '-' && is_digit(peek(1))) {
      ++pos_;
      v.post = number();
      return;
    }
    size_t save = pos_;
    eat_optional_sep();
    for (std::string_view word : {"post", "rev", "r"}) {
      if (eat_word(word)) {
        eat_optional_sep();
        v.post = number().value_or(0);
        return;
      }
    }
    pos_ = save;
  }

  void parse_dev(Version& v) {
    size_t save = pos_;
    eat_optional_sep();
    if (eat_word("dev")) {
      eat_optional_sep();
      v.dev = number().value_or(0);
      return;
    }
    pos_ = save;
  }

  // "+" then [a-z0-9]+ segments separated by single '-', '_' or '.'.
  bool parse_local(Version& v) {
    ++pos_;  // '+'
    while (true) {
      size_t start = pos_;
      while (is_lower_alnum(peek())) ++pos_;
      if (pos_ == start) return false;
      std::string_view seg = s_.substr(start, pos_ - start);
      if (std::all_of(seg.begin(), seg.end(), is_digit)) {
        auto n = to_number(seg);
        if (!n) return false;
        v.local.emplace_back(*n);
      } else {
        v.local.emplace_back(std::string(seg));
      }
      if (!is_sep(peek())) return true;
      ++pos_;
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  bool overflow_ = false;
};

// Parses without trimming whitespace (specifier versions are pre-trimmed and
// must not contain inner spaces such as "1.0 .*").
std::optional<Version> parse_exact(std::string_view s) {
  std::string lowered = lower(s);
  return VersionParser(lowered).run();
}

int cmp(uint64_t a, uint64_t b) { return a < b ? -1 : (a > b ? 1 : 0); }

// Release segments compare as if the shorter were padded with zeros.
int compare_release(const std::vector<uint64_t>& a,
                    const std::vector<uint64_t>& b) {
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    uint64_t x = i < a.size() ? a[i] : 0;
    uint64_t y = i < b.size() ? b[i] : 0;
    if (int c = cmp(x, y)) return c;
  }
  return 0;
}

// Where the pre-release slot sorts: a dev release of a final version
// (1.0.dev1, but not 1.0.post1.dev1) sorts before every pre-release of that
// version; a version with no pre-release sorts after all of them.
int pre_rank(const Version& v) {
  if (v.pre) return 1;
  if (v.dev && !v.post) return 0;
  return 2;
}

// Local labels: segment by segment; numeric segments sort above
// alphanumeric ones; a label that is a prefix of another sorts first.
int compare_local(const std::vector<LocalSegment>& a,
                  const std::vector<LocalSegment>& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const auto* ai = std::get_if<uint64_t>(&a[i]);
    const auto* bi = std::get_if<uint64_t>(&b[i]);
    if (ai && bi) {
      if (int c = cmp(*ai, *bi)) return c;
    } else if (ai) {
      return 1;
    } else if (bi) {
      return -1;
    } else {
      int c = std::get<std::string>(a[i]).compare(std::get<std::string>(b[i]));
      if (c) return c < 0 ? -1 : 1;
    }
  }
  return cmp(a.size(), b.size());
}

Version public_of(const Version& v) {
  Version p = v;
  p.local.clear();
  return p;
}

// Same epoch and (zero-padded) release, i.e. equal base versions.
bool same_base(const Version& a, const Version& b) {
  return a.epoch == b.epoch && compare_release(a.release, b.release) == 0;
}

// Prefix match for "==X.*": the candidate's release, zero padded to the
// length of X's release, starts with X's release. Pre/post/dev/local parts of
// the candidate are irrelevant (1.1a1, 1.1.post1, 1.1+x all match 1.1.*).
bool prefix_match(const Version& v, uint64_t epoch,
                  const std::vector<uint64_t>& prefix) {
  if (v.epoch != epoch) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    uint64_t x = i < v.release.size() ? v.release[i] : 0;
    if (x != prefix[i]) return false;
  }
  return true;
}

std::string join_release(const std::vector<uint64_t>& r) {
  std::string out;
  for (size_t i = 0; i < r.size(); ++i) {
    if (i) out += '.';
    out += std::to_string(r[i]);
  }
  return out;
}

}  // namespace

std::string Version::base_str() const {
  std::string out;
  if (epoch != 0) out += std::to_string(epoch) + "!";
  out += join_release(release);
  return out;
}

std::string Version::public_str() const {
  std::string out = base_str();
  if (pre) {
    static constexpr std::array<const char*, 3> kNames = {"a", "b", "rc"};
    out += kNames[static_cast<size_t>(pre->kind)];
    out += std::to_string(pre->number);
  }
  if (post) out += ".post" + std::to_string(*post);
  if (dev) out += ".dev" + std::to_string(*dev);
  return out;
}

std::string Version::str() const {
  std::string out = public_str();
  for (size_t i = 0; i < local.size(); ++i) {
    out += i == 0 ? '+' : '.';
    if (const auto* n = std::get_if<uint64_t>(&local[i])) {
      out += std::to_string(*n);
    } else {
      out += std::get<std::string>(local[i]);
    }
  }
  return out;
}

std::optional<Version> parse(std::string_view s) {
  return parse_exact(trim(s));
}

int compare(const Version& a, const Version& b) {
  if (int c = cmp(a.epoch, b.epoch)) return c;
  if (int c = compare_release(a.release, b.release)) return c;

  int ra = pre_rank(a), rb = pre_rank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  if (ra == 1) {
    if (int c = cmp(uint64_t(a.pre->kind), uint64_t(b.pre->kind))) return c;
    if (int c = cmp(a.pre->number, b.pre->number)) return c;
  }

  // No post release sorts before any post release.
  if (a.post.has_value() != b.post.has_value()) return a.post ? 1 : -1;
  if (a.post) {
    if (int c = cmp(*a.post, *b.post)) return c;
  }

  // A dev release sorts before the same version without one.
  if (a.dev.has_value() != b.dev.has_value()) return a.dev ? -1 : 1;
  if (a.dev) {
    if (int c = cmp(*a.dev, *b.dev)) return c;
  }

  // No local label sorts before any local label.
  return compare_local(a.local, b.local);
}

bool is_prerelease_string(std::string_view s) {
  auto v = parse(s);
  return v && v->is_prerelease();
}

// ---------------------------------------------------------------------------
// Specifiers

bool Specifier::allows_prereleases() const {
  // "!=1.0a1" names a pre-release only to exclude it.
  if (op == "!=") return false;
  if (op == "===") return is_prerelease_string(version);
  return parsed.is_prerelease();
}

bool Specifier::contains(const Version& v,
                         std::optional<bool> prereleases) const {
  if (v.is_prerelease() && !prereleases.value_or(allows_prereleases())) {
    return false;
  }
  const Version& spec = parsed;

  if (op == "===") return lower(v.str()) == lower(version);

  if (op == "==" || op == "!=") {
    bool eq;
    if (wildcard) {
      eq = prefix_match(v, spec.epoch, spec.release);
    } else if (spec.has_local()) {
      eq = compare(v, spec) == 0;
    } else {
      // A spec without a local label ignores the candidate's label.
      eq = compare(public_of(v), spec) == 0;
    }
    return op == "==" ? eq : !eq;
  }

  if (op == "~=") {
    // ~=X.Y.Z is >=X.Y.Z together with ==X.Y.* (parse guarantees >= 2
    // release segments; the guard only protects hand-built specifiers).
    if (spec.release.empty()) return false;
    std::vector<uint64_t> prefix(spec.release.begin(), spec.release.end() - 1);
    return compare(public_of(v), spec) >= 0 &&
           prefix_match(v, spec.epoch, prefix);
  }

  // Ordered comparisons; specs never carry a local label here, so the
  // candidate's label is dropped for the inclusive ones.
  if (op == "<=") return compare(public_of(v), spec) <= 0;
  if (op == ">=") return compare(public_of(v), spec) >= 0;
  if (op == "<") {
    if (compare(v, spec) >= 0) return false;
    // "<1.7" must not admit 1.7.0rc1 / 1.7.dev0 (pre-releases of the very
    // version named), unless the spec itself is a pre-release.
    return spec.is_prerelease() || !v.is_prerelease() || !same_base(v, spec);
  }
  if (op == ">") {
    if (compare(v, spec) <= 0) return false;
    // ">1.7" must not admit 1.7.post1 unless the spec is a post release,
    // nor 1.7+local (which sorts above 1.7 but is "the same" version).
    if (same_base(v, spec)) {
      if (v.is_postrelease() && !spec.is_postrelease()) return false;
      if (v.has_local()) return false;
    }
    return true;
  }
  return false;  // unreachable for parsed specifiers
}

std::optional<Specifier> parse_specifier(std::string_view s,
                                         std::string* error) {
  s = trim(s);
  static constexpr std::array<std::string_view, 8> kOps = {
      "===", "~=", "==", "!=", "<=", ">=", "<", ">"};
  Specifier spec;
  for (std::string_view op : kOps) {
    if (s.starts_with(op)) {
      spec.op = std::string(op);
      break;
    }
  }
  if (spec.op.empty()) {
    set_error(error, "missing comparison operator in '" + std::string(s) + "'");
    return std::nullopt;
  }
  std::string_view text = trim(s.substr(spec.op.size()));
  spec.version = std::string(text);
  auto fail = [&](const std::string& why) -> std::optional<Specifier> {
    set_error(error, why + " in '" + std::string(s) + "'");
    return std::nullopt;
  };
  if (text.empty()) return fail("missing version");

  if (spec.op == "===") {
    // Arbitrary equality: any string without whitespace; ';' and ')' are
    // excluded because they end a specifier inside a requirement line.
    for (char c : text) {
      if (is_space(c) || c == ';' || c == ')') return fail("invalid character");
    }
    return spec;
  }

  bool eq_op = spec.op == "==" || spec.op == "!=";
  std::string_view body = text;
  if (text.ends_with(".*")) {
    if (!eq_op) return fail("'.*' is only allowed with == and !=");
    spec.wildcard = true;
    body.remove_suffix(2);
  }
  auto v = parse_exact(body);
  if (!v) return fail("invalid version");
  if (spec.wildcard && (v->pre || v->post || v->dev || v->has_local())) {
    return fail("'.*' must follow the release segment directly");
  }
  if (!eq_op && v->has_local()) {
    return fail("local version label not allowed with " + spec.op);
  }
  if (spec.op == "~=" && v->release.size() < 2) {
    return fail("'~=' needs at least two release segments");
  }
  spec.parsed = std::move(*v);
  return spec;
}

bool SpecifierSet::contains(const Version& v,
                            std::optional<bool> prereleases) const {
  bool allow = prereleases.has_value()
                   ? *prereleases
                   : std::any_of(specs.begin(), specs.end(),
                                 [](const Specifier& s) {
                                   return s.allows_prereleases();
                                 });
  if (v.is_prerelease() && !allow) return false;
  return std::all_of(specs.begin(), specs.end(), [&](const Specifier& s) {
    return s.contains(v, allow);
  });
}

std::string SpecifierSet::str() const {
  std::string out;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (i) out += ',';
    out += specs[i].str();
  }
  return out;
}

std::optional<SpecifierSet> parse_specifiers(std::string_view s,
                                             std::string* error) {
  SpecifierSet set;
  while (true) {
    size_t comma = s.find(',');
    std::string_view item = trim(s.substr(0, comma));
    if (!item.empty()) {  // empty items (",," or "") are ignored
      auto spec = parse_specifier(item, error);
      if (!spec) return std::nullopt;
      set.specs.push_back(std::move(*spec));
    }
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return set;
}

// ---------------------------------------------------------------------------
// Requirements

// PEP 503, as everywhere else: names.h owns the rule.
std::string normalize_name(std::string_view name) { return pm::normalize_name(name); }

std::optional<Requirement> parse_requirement(std::string_view line,
                                             std::string* error) {
  if (error) error->clear();
  if (size_t hash = line.find('#'); hash != std::string_view::npos) {
    line = line.substr(0, hash);
  }
  line = trim(line);
  if (line.empty()) return std::nullopt;

  auto fail = [&](const std::string& why) -> std::optional<Requirement> {
    set_error(error, why + ": '" + std::string(line) + "'");
    return std::nullopt;
  };

  // PEP 508 name: ASCII letters/digits, with '-', '_', '.' only inside.
  size_t pos = 0;
  while (pos < line.size() && (is_alnum(line[pos]) || is_sep(line[pos]))) ++pos;
  std::string_view name = line.substr(0, pos);
  if (name.empty() || !is_alnum(name.front()) || !is_alnum(name.back())) {
    return fail("invalid project name");
  }

  std::string_view rest = trim(line.substr(pos));
  if (rest.starts_with('[')) {
    // Extras are skipped; only check that they are plausibly well formed.
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail("unterminated extras");
    for (char c : rest.substr(1, close - 1)) {
      if (!is_alnum(c) && !is_sep(c) && c != ',' && !is_space(c)) {
        return fail("invalid extras");
      }
    }
    rest = trim(rest.substr(close + 1));
  }
  if (rest.starts_with('@')) return fail("URL requirements are not supported");

  // Markers after ';' are ignored.
  std::string_view spec_text = trim(rest.substr(0, rest.find(';')));
  if (spec_text.starts_with('(')) {
    if (!spec_text.ends_with(')')) return fail("unbalanced parenthesis");
    spec_text = spec_text.substr(1, spec_text.size() - 2);
  }

  std::string spec_error;
  auto specs = parse_specifiers(spec_text, &spec_error);
  if (!specs) return fail(spec_error);

  Requirement req;
  req.name = normalize_name(name);
  req.specs = std::move(*specs);
  return req;
}

}  // namespace pm::pep440
