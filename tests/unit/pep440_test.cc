// Unit tests for tools/lib/pep440.{h,cc}. Most cases are taken from the
// examples in PEP 440 itself.
#include "pep440.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace pep = pm::pep440;

namespace {

// Canonical form of s, or "<invalid>".
std::string norm(std::string_view s) {
  auto v = pep::parse(s);
  return v ? v->str() : "<invalid>";
}

pep::Version ver(std::string_view s) {
  auto v = pep::parse(s);
  EXPECT_TRUE(v.has_value()) << "unparsable test version: " << s;
  return v.value_or(pep::Version{});
}

// Does the specifier set `specs` contain `version`?
bool in(std::string_view specs, std::string_view version,
        std::optional<bool> prereleases = std::nullopt) {
  std::string err;
  auto set = pep::parse_specifiers(specs, &err);
  EXPECT_TRUE(set.has_value()) << specs << ": " << err;
  return set && set->contains(ver(version), prereleases);
}

}  // namespace

TEST(Pep440Parse, NormalizationTable) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      // Case sensitivity and integer normalization.
      {"1.1RC1", "1.1rc1"},
      {"00", "0"},
      {"09000", "9000"},
      {"1.0+foo0100", "1.0+foo0100"},  // inside alphanumeric: untouched
      {"1.0+0100", "1.0+100"},
      // Pre-release separators and spellings, implicit number.
      {"1.1.a1", "1.1a1"},
      {"1.1-a1", "1.1a1"},
      {"1.1_a1", "1.1a1"},
      {"1.0a.1", "1.0a1"},
      {"1.1alpha1", "1.1a1"},
      {"1.1beta2", "1.1b2"},
      {"1.1c3", "1.1rc3"},
      {"1.1pre4", "1.1rc4"},
      {"1.1preview5", "1.1rc5"},
      {"1.2a", "1.2a0"},
      // Post-release separators and spellings, implicit number/post.
      {"1.2-post2", "1.2.post2"},
      {"1.2_post2", "1.2.post2"},
      {"1.2post2", "1.2.post2"},
      {"1.2.post-2", "1.2.post2"},
      {"1.0-r4", "1.0.post4"},
      {"1.0-rev4", "1.0.post4"},
      {"1.2.post", "1.2.post0"},
      {"1.0-1", "1.0.post1"},
      // Development releases.
      {"1.2-dev2", "1.2.dev2"},
      {"1.2dev2", "1.2.dev2"},
      {"1.2.dev", "1.2.dev0"},
      {"1.2.dev_2", "1.2.dev2"},
      // Local labels, leading v, whitespace, epochs.
      {"1.0+ubuntu-1", "1.0+ubuntu.1"},
      {"1.0+Ubuntu_1", "1.0+ubuntu.1"},
      {"v1.0", "1.0"},
      {"V1.0", "1.0"},
      {" \t1.0\n", "1.0"},
      {"0!1.0", "1.0"},
      {"1!1.0", "1!1.0"},
      {"1.0.0", "1.0.0"},  // trailing zeros are kept in the string form
      {"v1.0-ALPHA-1_post_3.DEV-4+Local_7", "1.0a1.post3.dev4+local.7"},
  };
  for (const auto& [input, want] : cases) EXPECT_EQ(norm(input), want) << input;
}

TEST(Pep440Parse, FieldsAndFlags) {
  pep::Version v = ver("1!2.3.4rc5.post6.dev7+abc.8");
  EXPECT_EQ(v.epoch, 1u);
  EXPECT_EQ(v.release, (std::vector<uint64_t>{2, 3, 4}));
  ASSERT_TRUE(v.pre.has_value());
  EXPECT_EQ(v.pre->kind, pep::PreKind::RC);
  EXPECT_EQ(v.pre->number, 5u);
  EXPECT_EQ(v.post, 6u);
  EXPECT_EQ(v.dev, 7u);
  ASSERT_EQ(v.local.size(), 2u);
  EXPECT_EQ(std::get<std::string>(v.local[0]), "abc");
  EXPECT_EQ(std::get<uint64_t>(v.local[1]), 8u);
  EXPECT_EQ(v.public_str(), "1!2.3.4rc5.post6.dev7");
  EXPECT_EQ(v.base_str(), "1!2.3.4");

  EXPECT_TRUE(ver("1.0a1").is_prerelease());
  EXPECT_TRUE(ver("1.0.dev1").is_prerelease());
  EXPECT_TRUE(ver("1.0.post1.dev1").is_prerelease());
  EXPECT_FALSE(ver("1.0.post1").is_prerelease());
  EXPECT_TRUE(ver("1.0.post1").is_postrelease());
  EXPECT_TRUE(ver("1.0.dev1").is_devrelease());
  EXPECT_FALSE(ver("1.0+local").is_prerelease());
  EXPECT_TRUE(pep::is_prerelease_string("2.0rc1"));
  EXPECT_FALSE(pep::is_prerelease_string("2.0"));
  EXPECT_FALSE(pep::is_prerelease_string("not a version"));
}

TEST(Pep440Parse, RejectsInvalid) {
  for (const char* bad :
       {"", "  ", "french toast", "1.0+", "1.0+a..b", "1.0+_a", "1.0a1+",
        "1.0.", "1..0", ".1", "1.0-", "1.0.*", "1.0 a1", "1.0 +abc", "1,0",
        "1.0a1a2", "1.0.dev1.post1", "1.0dev1a1", "1.0+a+b", "vv1.0", "1!",
        "!1.0", "1.0-1-1"}) {
    EXPECT_FALSE(pep::parse(bad).has_value()) << bad;
  }
}

TEST(Pep440Parse, HugeNumbersRejectedCleanly) {
  EXPECT_EQ(norm("1.999999999999999999"), "1.999999999999999999");  // 18
  EXPECT_EQ(norm("1.0000000000000000000000007"), "1.7");  // zeros don't count
  for (const char* bad :
       {"1.9999999999999999999", "18446744073709551616", "99999999999999999999!1",
        "1.0a99999999999999999999", "1.0.post99999999999999999999",
        "1.0.dev99999999999999999999", "1.0+99999999999999999999"}) {
    EXPECT_FALSE(pep::parse(bad).has_value()) << bad;
  }
  // Long digit runs inside an alphanumeric local segment are just text.
  EXPECT_EQ(norm("1.0+g99999999999999999999"), "1.0+g99999999999999999999");
}

TEST(Pep440Order, PepExampleListIsSorted) {
  // The ordering example from PEP 440 ("Summary of permitted suffixes and
  // relative ordering"), ascending.
  const std::vector<std::string> sorted = {
      "1.dev0",         "1.0.dev456",   "1.0a1",
      "1.0a2.dev456",   "1.0a12.dev456", "1.0a12",
      "1.0b1.dev456",   "1.0b2",        "1.0b2.post345.dev456",
      "1.0b2.post345",  "1.0rc1.dev456", "1.0rc1",
      "1.0",            "1.0+abc.5",    "1.0+abc.7",
      "1.0+5",          "1.0.post456.dev34", "1.0.post456",
      "1.0.15",         "1.1.dev1"};
  std::vector<pep::Version> vs;
  for (const auto& s : sorted) vs.push_back(ver(s));
  for (size_t i = 0; i < vs.size(); ++i) {
    EXPECT_EQ(pep::compare(vs[i], vs[i]), 0) << sorted[i];
    for (size_t j = i + 1; j < vs.size(); ++j) {
      EXPECT_LT(pep::compare(vs[i], vs[j]), 0) << sorted[i] << " < " << sorted[j];
      EXPECT_GT(pep::compare(vs[j], vs[i]), 0) << sorted[j] << " > " << sorted[i];
    }
  }
  // std::sort via operator<=> restores the order from a reversed copy.
  std::vector<pep::Version> shuffled(vs.rbegin(), vs.rend());
  std::sort(shuffled.begin(), shuffled.end());
  for (size_t i = 0; i < vs.size(); ++i) EXPECT_EQ(shuffled[i].str(), sorted[i]);
}

TEST(Pep440Order, EquivalenceEpochsAndLocals) {
  EXPECT_EQ(ver("1.0"), ver("1.0.0"));
  EXPECT_EQ(ver("1.0"), ver("1.0.0.0"));
  EXPECT_EQ(ver("1.0a1"), ver("1.0ALPHA-1"));
  EXPECT_LT(ver("2.0"), ver("1!0.1"));
  EXPECT_LT(ver("1.0.dev1"), ver("1.0a1.dev1"));
  EXPECT_LT(ver("1.0"), ver("1.0.post1.dev1"));
  EXPECT_LT(ver("1.0+abc"), ver("1.0+abc.5"));  // shorter prefix first
  EXPECT_LT(ver("1.0+abc"), ver("1.0+abd"));
  EXPECT_LT(ver("1.0+zzz"), ver("1.0+0"));  // numeric beats alphanumeric
  EXPECT_LT(ver("1.0+9"), ver("1.0+10"));
  EXPECT_LT(ver("1.0.post1+zzz"), ver("1.0.post2"));
}

TEST(Pep440Specifier, CompatibleRelease) {
  // ~=2.2 is >=2.2, ==2.*
  EXPECT_TRUE(in("~=2.2", "2.2"));
  EXPECT_TRUE(in("~=2.2", "2.9.1"));
  EXPECT_FALSE(in("~=2.2", "3.0"));
  EXPECT_FALSE(in("~=2.2", "2.1"));
  // ~=1.4.5a4 is >=1.4.5a4, ==1.4.*  (and admits pre-releases)
  EXPECT_TRUE(in("~=1.4.5a4", "1.4.5a4"));
  EXPECT_TRUE(in("~=1.4.5a4", "1.4.5b1"));
  EXPECT_TRUE(in("~=1.4.5a4", "1.4.9"));
  EXPECT_FALSE(in("~=1.4.5a4", "1.4.5a3"));
  EXPECT_FALSE(in("~=1.4.5a4", "1.5.0"));
  // ~=2.2.post3 is >=2.2.post3, ==2.*; ~=1.4.5.0 is >=1.4.5.0, ==1.4.5.*
  EXPECT_TRUE(in("~=2.2.post3", "2.3"));
  EXPECT_FALSE(in("~=2.2.post3", "2.2"));
  EXPECT_TRUE(in("~=1.4.5.0", "1.4.5.9"));
  EXPECT_FALSE(in("~=1.4.5.0", "1.4.6"));
  EXPECT_FALSE(in("~=1!2.2", "2.5"));
}

TEST(Pep440Specifier, EqualityAndPrefixMatching) {
  // PEP example, candidate 1.1.post1.
  EXPECT_FALSE(in("==1.1", "1.1.post1"));
  EXPECT_TRUE(in("==1.1.post1", "1.1.post1"));
  EXPECT_TRUE(in("==1.1.*", "1.1.post1"));
  EXPECT_TRUE(in("!=1.0", "1.1.post1"));
  EXPECT_FALSE(in("!=1.1.post1", "1.1.post1"));
  EXPECT_FALSE(in("!=1.1.*", "1.1.post1"));
  // Zero padding on both sides of ==.
  EXPECT_TRUE(in("==1.1", "1.1.0"));
  EXPECT_TRUE(in("==1.1.0.*", "1.1"));
  EXPECT_TRUE(in("==1.1.*", "1.1.5"));
  EXPECT_FALSE(in("==1.1.*", "1.10"));
  EXPECT_FALSE(in("==1.1.*", "1.1a1"));
  EXPECT_TRUE(in("==1.1.*", "1.1a1", true));
  EXPECT_FALSE(in("==2.*", "1!2.0"));
  EXPECT_TRUE(in("===1.0", "1.0"));
  EXPECT_FALSE(in("===1.0", "1.0.0"));
}

TEST(Pep440Specifier, LocalVersions) {
  EXPECT_TRUE(in("==1.0", "1.0+local"));
  EXPECT_FALSE(in("!=1.0", "1.0+local"));
  EXPECT_TRUE(in("==1.0+local", "1.0+LOCAL"));
  EXPECT_FALSE(in("==1.0+local", "1.0"));
  EXPECT_FALSE(in("==1.0+local", "1.0+other"));
  EXPECT_TRUE(in("==1.0.*", "1.0+local"));
  EXPECT_TRUE(in("<=1.0", "1.0+local"));
  EXPECT_TRUE(in(">=1.0", "1.0+local"));
  EXPECT_TRUE(in("~=1.0", "1.0+local"));
}

TEST(Pep440Specifier, ExclusiveOrdered) {
  EXPECT_TRUE(in(">1.7", "1.7.1"));
  EXPECT_FALSE(in(">1.7", "1.7"));
  EXPECT_FALSE(in(">1.7", "1.7.0.post1"));
  EXPECT_FALSE(in(">1.7", "1.7+local"));
  EXPECT_TRUE(in(">1.7", "1.8.post1"));
  EXPECT_TRUE(in(">1.7.post2", "1.7.0.post3"));
  EXPECT_FALSE(in(">1.7.post2", "1.7.post2"));
  EXPECT_TRUE(in("<1.7", "1.6.9"));
  EXPECT_FALSE(in("<1.7", "1.7.0rc1", true));
  EXPECT_FALSE(in("<1.7", "1.7.dev0", true));
  EXPECT_TRUE(in("<1.7", "1.6.dev0", true));
  EXPECT_TRUE(in("<1.7.0rc2", "1.7.0rc1"));
}

TEST(Pep440Specifier, PrereleaseDefaults) {
  EXPECT_FALSE(in(">=1.0", "2.0a1"));
  EXPECT_TRUE(in(">=1.0", "2.0a1", true));
  EXPECT_TRUE(in(">=1.0a1", "2.0a1"));
  EXPECT_FALSE(in(">=1.0a1", "2.0a1", false));  // explicit false wins
  EXPECT_TRUE(in(">=1.0a1, <3", "2.0b1"));      // any member names a pre
  EXPECT_FALSE(in("!=2.0a1", "2.0b1"));         // != does not opt in
  // Empty set: everything, except pre-releases by default.
  EXPECT_TRUE(in("", "1.0"));
  EXPECT_FALSE(in("", "1.0a1"));
  EXPECT_TRUE(in("", "1.0a1", true));

  // Single Specifier with a plain bool argument.
  auto spec = pep::parse_specifier(">=1.0");
  ASSERT_TRUE(spec.has_value());
  EXPECT_FALSE(spec->contains(ver("1.5rc1"), false));
  EXPECT_TRUE(spec->contains(ver("1.5rc1"), true));
}

TEST(Pep440Specifier, SetParsing) {
  auto set = pep::parse_specifiers(" >= 1.0 , != 1.3.* ,<2 ");
  ASSERT_TRUE(set.has_value());
  EXPECT_EQ(set->specs.size(), 3u);
  EXPECT_EQ(set->str(), ">=1.0,!=1.3.*,<2");
  EXPECT_FALSE(set->contains(ver("1.3.4")));
  EXPECT_TRUE(set->contains(ver("1.4")));
  EXPECT_FALSE(set->contains(ver("2.0")));
  EXPECT_FALSE(set->contains(ver("1.5a1")));
  EXPECT_TRUE(set->contains(ver("1.5a1"), true));
  EXPECT_FALSE(set->contains(ver("2.0a1"), true));
  EXPECT_EQ(pep::parse_specifiers(" , ,")->specs.size(), 0u);

  for (const char* bad :
       {"~=1", "1.0", ">=", "=>1.0", "<1.0.*", ">=1.0+local", "~=1.0+local",
        "==1.0a1.*", "==1.0+abc.*", "~=1.0.*", ">=1.0 2.0", "==1.0 .*",
        ">=1.0,,foo", "=== a b"}) {
    std::string err;
    EXPECT_FALSE(pep::parse_specifiers(bad, &err).has_value()) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
}

TEST(Pep440Requirement, Parsing) {
  EXPECT_EQ(pep::normalize_name("A-_-b..C"), "a-b-c");

  auto r = pep::parse_requirement("requests>=2,<3");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->name, "requests");
  EXPECT_EQ(r->specs.specs.size(), 2u);
  EXPECT_TRUE(r->specs.contains(ver("2.31.0")));
  EXPECT_FALSE(r->specs.contains(ver("3.0")));

  r = pep::parse_requirement("Foo_Bar == 1.0");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->name, "foo-bar");
  EXPECT_EQ(r->specs.str(), "==1.0");

  r = pep::parse_requirement("name[extra, other]>=1 ; python_version>'3'");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->name, "name");
  EXPECT_EQ(r->specs.str(), ">=1");

  r = pep::parse_requirement("  Foo.Bar--baz (>=1.0, <2)  # pinned");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->name, "foo-bar-baz");
  EXPECT_EQ(r->specs.specs.size(), 2u);

  r = pep::parse_requirement("zope.interface");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->name, "zope-interface");
  EXPECT_TRUE(r->specs.specs.empty());

  for (const char* blank : {"", "   ", "# just a comment"}) {
    std::string err = "stale";
    EXPECT_FALSE(pep::parse_requirement(blank, &err).has_value()) << blank;
    EXPECT_TRUE(err.empty()) << blank;
  }
  for (const char* bad : {">=1.0", "-e .", "pkg >=", "pkg-", "pkg 1.0",
                          "pkg[extra", "pkg (>=1.0", "pkg>=1.0.*",
                          "pkg @ https://example.com/pkg-1.0.whl"}) {
    std::string err;
    EXPECT_FALSE(pep::parse_requirement(bad, &err).has_value()) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
}
