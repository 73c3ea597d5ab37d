// pep508.cc - PEP 508 requirements and markers (see pep508.h).
#include "pep508.h"

#include <algorithm>
#include <set>

namespace pm::pep508 {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_sep(char c) { return c == '-' || c == '_' || c == '.'; }

// Nesting deeper than this is refused: the parser recurses on '('.
constexpr int kMaxDepth = 64;
// Longest text accepted for one requirement or marker.
constexpr size_t kMaxText = 64 << 10;

const std::map<std::string, std::string>& variable_aliases() {
  static const std::map<std::string, std::string> m = {
      {"os.name", "os_name"},
      {"sys.platform", "sys_platform"},
      {"platform.version", "platform_version"},
      {"platform.machine", "platform_machine"},
      {"platform.python_implementation", "platform_python_implementation"},
      {"python_implementation", "platform_python_implementation"},
  };
  return m;
}

}  // namespace

const std::vector<std::string>& marker_variables() {
  static const std::vector<std::string> v = {
      "implementation_name", "implementation_version", "os_name",
      "platform_machine",    "platform_release",       "platform_system",
      "platform_version",    "python_full_version",    "platform_python_implementation",
      "python_version",      "sys_platform",           "extra"};
  return v;
}

struct MarkerNode {
  enum Kind { And, Or, Compare } kind = Compare;
  std::shared_ptr<const MarkerNode> left, right;  // And / Or
  // Compare: each side is a variable or a literal string.
  bool lhs_var = false, rhs_var = false;
  std::string lhs, op, rhs;
};

namespace {

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::shared_ptr<const MarkerNode> parse_all(std::string* error) {
    auto n = parse_or(0);
    skip_ws();
    if (n && pos_ != s_.size()) fail("unexpected text '" + std::string(s_.substr(pos_, 20)) + "'");
    if (!err_.empty()) {
      if (error) *error = "invalid marker: " + err_;
      return nullptr;
    }
    return n;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  std::string err_;

  void fail(const std::string& why) {
    if (err_.empty()) err_ = why + " at position " + std::to_string(pos_ + 1);
  }
  void skip_ws() {
    while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
  }
  // A keyword (and, or, in, not) followed by something that cannot continue a word.
  bool keyword(std::string_view kw) {
    skip_ws();
    if (s_.substr(pos_, kw.size()) != kw) return false;
    size_t e = pos_ + kw.size();
    if (e < s_.size() && (is_alnum(s_[e]) || s_[e] == '_' || s_[e] == '.')) return false;
    pos_ = e;
    return true;
  }

  std::shared_ptr<const MarkerNode> parse_or(int depth) { return parse_chain(depth, MarkerNode::Or); }
  std::shared_ptr<const MarkerNode> parse_and(int depth) { return parse_chain(depth, MarkerNode::And); }
  // Operands joined by "or" (each an "and" chain: and binds tighter) or by
  // "and" (each an atom), left to right.
  std::shared_ptr<const MarkerNode> parse_chain(int depth, MarkerNode::Kind kind) {
    bool is_or = kind == MarkerNode::Or;
    auto operand = [&] { return is_or ? parse_and(depth) : parse_atom(depth); };
    auto l = operand();
    while (l && keyword(is_or ? "or" : "and")) {
      auto r = operand();
      if (!r) return nullptr;
      auto n = std::make_shared<MarkerNode>();
      n->kind = kind;
      n->left = l;
      n->right = r;
      l = n;
    }
    return l;
  }
  std::shared_ptr<const MarkerNode> parse_atom(int depth) {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '(') {
      if (depth >= kMaxDepth) {
        fail("markers nested too deeply");
        return nullptr;
      }
      ++pos_;
      auto n = parse_or(depth + 1);
      if (!n) return nullptr;
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ')') {
        fail("expected ')'");
        return nullptr;
      }
      ++pos_;
      return n;
    }
    auto n = std::make_shared<MarkerNode>();
    if (!parse_value(n->lhs, n->lhs_var)) return nullptr;
    if (!parse_op(n->op)) return nullptr;
    if (!parse_value(n->rhs, n->rhs_var)) return nullptr;
    return n;
  }
  bool parse_value(std::string& out, bool& is_var) {
    skip_ws();
    if (pos_ >= s_.size()) {
      fail("expected a marker variable or a quoted string");
      return false;
    }
    char q = s_[pos_];
    if (q == '\'' || q == '"') {
      size_t e = s_.find(q, pos_ + 1);
      if (e == std::string_view::npos) {
        fail("unterminated string");
        return false;
      }
      out = std::string(s_.substr(pos_ + 1, e - pos_ - 1));
      pos_ = e + 1;
      is_var = false;
      return true;
    }
    size_t b = pos_;
    while (pos_ < s_.size() && (is_alnum(s_[pos_]) || s_[pos_] == '_' || s_[pos_] == '.')) ++pos_;
    std::string name(s_.substr(b, pos_ - b));
    if (auto a = variable_aliases().find(name); a != variable_aliases().end()) name = a->second;
    const auto& vars = marker_variables();
    if (std::find(vars.begin(), vars.end(), name) == vars.end()) {
      pos_ = b;
      fail(name.empty() ? std::string("expected a marker variable or a quoted string")
                        : "unknown marker variable '" + name + "'");
      return false;
    }
    out = name;
    is_var = true;
    return true;
  }
  bool parse_op(std::string& op) {
    skip_ws();
    static const char* const ops[] = {"===", "==", "!=", "<=", ">=", "~=", "<", ">"};
    for (const char* o : ops) {
      std::string_view ov(o);
      if (s_.substr(pos_, ov.size()) == ov) {
        op = o;
        pos_ += ov.size();
        return true;
      }
    }
    if (keyword("in")) {
      op = "in";
      return true;
    }
    size_t save = pos_;
    if (keyword("not")) {
      if (keyword("in")) {
        op = "not in";
        return true;
      }
      pos_ = save;
    }
    fail("expected a marker operator");
    return false;
  }
};

bool is_version_op(const std::string& op) {
  return op == "==" || op == "!=" || op == "<=" || op == ">=" || op == "<" || op == ">" ||
         op == "~=" || op == "===";
}

// One comparison, with packaging's rules: a version comparison when the
// right side and operator make a valid specifier and the left side is a
// version, a string comparison otherwise.
bool compare(const std::string& lhs, const std::string& op, const std::string& rhs) {
  if (is_version_op(op)) {
    if (auto spec = pep440::parse_specifier(op + rhs)) {
      if (op == "===") return lhs == rhs;
      if (auto v = pep440::parse(lhs)) return spec->contains(*v, true);
      // A valid specifier but a left side that is not a version: packaging's
      // Specifier.contains() is false for it.
      return false;
    }
    if (op == "==") return lhs == rhs;
    if (op == "!=") return lhs != rhs;
    if (op == "<") return lhs < rhs;
    if (op == "<=") return lhs <= rhs;
    if (op == ">") return lhs > rhs;
    if (op == ">=") return lhs >= rhs;
    return false;  // ~= and === need versions
  }
  if (op == "in") return rhs.find(lhs) != std::string::npos;
  if (op == "not in") return rhs.find(lhs) == std::string::npos;
  return false;
}

bool eval(const MarkerNode& n, const Environment& env, std::string_view extra) {
  switch (n.kind) {
    case MarkerNode::And:
      return eval(*n.left, env, extra) && eval(*n.right, env, extra);
    case MarkerNode::Or:
      return eval(*n.left, env, extra) || eval(*n.right, env, extra);
    case MarkerNode::Compare:
      break;
  }
  auto value = [&](const std::string& s, bool var) -> std::string {
    if (!var) return s;
    if (s == "extra") return std::string(extra);
    auto it = env.find(s);
    return it == env.end() ? std::string() : it->second;
  };
  std::string l = value(n.lhs, n.lhs_var), r = value(n.rhs, n.rhs_var);
  if ((n.lhs_var && n.lhs == "extra") || (n.rhs_var && n.rhs == "extra")) {
    // Extras are names: compared normalized. With no extra, no "extra == X" holds.
    l = pep440::normalize_name(l);
    r = pep440::normalize_name(r);
  }
  return compare(l, n.op, r);
}

bool mentions_extra(const MarkerNode& n) {
  if (n.kind != MarkerNode::Compare) return mentions_extra(*n.left) || mentions_extra(*n.right);
  return (n.lhs_var && n.lhs == "extra") || (n.rhs_var && n.rhs == "extra");
}

std::string quote(const std::string& s) {
  return s.find('"') == std::string::npos ? "\"" + s + "\"" : "'" + s + "'";
}

std::string to_str(const MarkerNode& n, bool parent_and) {
  switch (n.kind) {
    case MarkerNode::And:
      return to_str(*n.left, true) + " and " + to_str(*n.right, true);
    case MarkerNode::Or: {
      std::string s = to_str(*n.left, false) + " or " + to_str(*n.right, false);
      return parent_and ? "(" + s + ")" : s;
    }
    case MarkerNode::Compare:
      break;
  }
  return (n.lhs_var ? n.lhs : quote(n.lhs)) + " " + n.op + " " + (n.rhs_var ? n.rhs : quote(n.rhs));
}

}  // namespace

bool Marker::evaluate(const Environment& env, std::string_view extra) const {
  return !root_ || eval(*root_, env, extra);
}

bool Marker::uses_extra() const { return root_ && mentions_extra(*root_); }

std::string Marker::str() const { return root_ ? to_str(*root_, false) : std::string(); }

std::optional<Marker> parse_marker(std::string_view text, std::string* error) {
  if (error) error->clear();
  if (text.size() > kMaxText) {
    if (error) *error = "marker too long";
    return std::nullopt;
  }
  Parser p(text);
  auto root = p.parse_all(error);
  if (!root) return std::nullopt;
  return Marker(root);
}

bool Requirement::applies(const Environment& env, const std::vector<std::string>& with_extras) const {
  if (marker.empty()) return true;
  if (!marker.uses_extra() || with_extras.empty()) return marker.evaluate(env, "");
  for (const auto& e : with_extras)
    if (marker.evaluate(env, e)) return true;
  return false;
}

std::string Requirement::str() const {
  std::string s = name;
  if (!extras.empty()) {
    s += "[";
    for (size_t i = 0; i < extras.size(); i++) s += (i ? "," : "") + extras[i];
    s += "]";
  }
  s += specs.str();
  if (!marker.empty()) s += "; " + marker.str();
  return s;
}

std::optional<Requirement> parse_requirement(std::string_view text, std::string* error) {
  if (error) error->clear();
  auto fail = [&](const std::string& why) -> std::optional<Requirement> {
    if (error) {
      std::string shown(text.substr(0, 200));
      *error = why + ": '" + shown + (text.size() > 200 ? "...'" : "'");
    }
    return std::nullopt;
  };
  if (text.size() > kMaxText) return fail("requirement too long");
  size_t b = 0, e = text.size();
  while (b < e && is_space(text[b])) ++b;
  while (e > b && is_space(text[e - 1])) --e;
  text = text.substr(b, e - b);
  if (text.empty()) return fail("empty requirement");

  size_t pos = 0;
  while (pos < text.size() && (is_alnum(text[pos]) || is_sep(text[pos]))) ++pos;
  std::string_view name = text.substr(0, pos);
  if (name.empty() || !is_alnum(name.front()) || !is_alnum(name.back()))
    return fail("invalid project name");
  Requirement req;
  req.display_name = std::string(name);
  req.name = pep440::normalize_name(name);

  auto skip = [&] {
    while (pos < text.size() && is_space(text[pos])) ++pos;
  };
  skip();
  if (pos < text.size() && text[pos] == '[') {
    size_t close = text.find(']', pos);
    if (close == std::string_view::npos) return fail("unterminated extras");
    std::set<std::string> extras;
    std::string_view body = text.substr(pos + 1, close - pos - 1);
    size_t i = 0;
    while (i <= body.size()) {
      size_t c = body.find(',', i);
      std::string_view one = body.substr(i, c == std::string_view::npos ? std::string_view::npos : c - i);
      size_t ob = 0, oe = one.size();
      while (ob < oe && is_space(one[ob])) ++ob;
      while (oe > ob && is_space(one[oe - 1])) --oe;
      one = one.substr(ob, oe - ob);
      if (one.empty()) {
        // "name[]" is allowed; an empty item between commas is not.
        if (!(body.find_first_not_of(" \t") == std::string_view::npos)) return fail("invalid extras");
      } else {
        for (char ch : one)
          if (!is_alnum(ch) && !is_sep(ch)) return fail("invalid extras");
        if (!is_alnum(one.front()) || !is_alnum(one.back())) return fail("invalid extras");
        extras.insert(pep440::normalize_name(one));
      }
      if (c == std::string_view::npos) break;
      i = c + 1;
    }
    req.extras.assign(extras.begin(), extras.end());
    pos = close + 1;
    skip();
  }
  if (pos < text.size() && text[pos] == '@')
    return fail("URL requirements (name @ url) are not supported: a mirror serves only what the index has");

  std::string_view rest = text.substr(pos);
  size_t semi = rest.find(';');
  std::string_view spec_text = rest.substr(0, semi);
  while (!spec_text.empty() && is_space(spec_text.back())) spec_text.remove_suffix(1);
  if (spec_text.starts_with('(')) {
    if (!spec_text.ends_with(')')) return fail("unbalanced parenthesis");
    spec_text = spec_text.substr(1, spec_text.size() - 2);
  }
  if (spec_text.find_first_of("()[]@;") != std::string_view::npos) return fail("invalid version specifier");
  std::string spec_error;
  auto specs = pep440::parse_specifiers(spec_text, &spec_error);
  if (!specs) return fail(spec_error);
  req.specs = std::move(*specs);
  if (semi != std::string_view::npos) {
    std::string merr;
    auto m = parse_marker(rest.substr(semi + 1), &merr);
    if (!m) return fail(merr);
    req.marker = std::move(*m);
  }
  return req;
}

}  // namespace pm::pep508
