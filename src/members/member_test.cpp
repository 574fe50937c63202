#include "members/member.h"

#include <gtest/gtest.h>

namespace regulars::members {
namespace {

constexpr Micros kNow = 1'790'000'000'000'000;  // 2026-09-21

TEST(CleanMemberInput, RejectsEachBadFieldByName) {
  struct Case {
    MemberInput in;
    const char* field;
    const char* message;
  } cases[] = {
      {{.phone = "12345"}, "phone", "phone: not a valid number for region TW"},
      {{.email = std::optional<std::string>("not-an-email")},
       "email",
       "email: is not a valid e-mail address"},
      {{.birthday = std::optional<std::string>("1990-02-30")},
       "birthday",
       "birthday: must be YYYY-MM-DD, or --MM-DD without a year"},
      {{.birthday = std::optional<std::string>("2099-01-01")},
       "birthday",
       "birthday: must be between 1900 and today"},
      {{.gender = std::optional<std::string>("f")},
       "gender",
       "gender: must be female, male or other"},
      {{.language = std::optional<std::string>("ja")},
       "language",
       "language: must be zh-TW, zh-CN or en"},
      {{.tags = std::vector<std::string>{"vip", " "}}, "tags[1]", "tags[1]: is empty"},
      {{.name = std::optional<std::string>("\xff\xfe")}, "name", "name: is not valid UTF-8"},
  };
  for (const auto& c : cases) {
    auto r = CleanMemberInput(c.in, "TW", kNow);
    ASSERT_FALSE(r.has_value()) << c.message;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << c.message;
    EXPECT_EQ(r.error().field, c.field);
    EXPECT_EQ(r.error().message, c.message);
  }
}

TEST(CleanMemberInput, NormalisesWhatItKeeps) {
  MemberInput in;
  in.phone = "0912-345678";
  in.email = std::optional<std::string>(" Alice@Example.COM ");
  in.birthday = std::optional<std::string>("--02-29");
  in.tags = std::vector<std::string>{" vip ", "vip", "新客"};
  in.name = std::optional<std::string>("  ");
  auto r = CleanMemberInput(in, "TW", kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r->phone, "+886912345678");
  EXPECT_EQ(**r->email, "alice@example.com");
  EXPECT_EQ(**r->birthday, (Date{0, 2, 29}));
  EXPECT_EQ(*r->tags, (std::vector<std::string>{"vip", "新客"}));
  EXPECT_FALSE(r->name->has_value());  // blank clears
}

TEST(MergeInto, FillsGapsUnitesTagsAndKeepsNewestConsent) {
  Member a, b;
  a.name = "陳小明";
  a.tags = {"vip"};
  a.consent[0] = Consent{true, 100, "counter", {}, {}};
  b.name = "Other";
  b.email = "b@example.com";
  b.tags = {"vip", "online"};
  b.consent[0] = Consent{false, 200, "sms_stop", {}, {}};
  b.consent[1] = Consent{true, 50, "import", {}, {}};
  MergeInto(a, b);
  EXPECT_EQ(*a.name, "陳小明");
  EXPECT_EQ(*a.email, "b@example.com");
  EXPECT_EQ(a.tags, (std::vector<std::string>{"vip", "online"}));
  EXPECT_FALSE(a.consent[0]->granted);
  EXPECT_TRUE(a.consent[1]->granted);
}

TEST(ErasePersonalData, BlanksPersonalFieldsOnly) {
  Member m;
  m.id = 7;
  m.phone = "+886912345678";
  m.name = "x";
  m.referral_code = "ABCD2345";
  m.consent[2] = Consent{true, 1, "api", {}, {}};
  ErasePersonalData(m, 99);
  EXPECT_FALSE(m.phone || m.name || m.consent[2]);
  EXPECT_EQ(m.id, 7);
  EXPECT_EQ(m.referral_code, "ABCD2345");
  EXPECT_EQ(*m.erased_at, 99);
}

TEST(ReversedDigits, ForSuffixSearch) {
  EXPECT_EQ(ReversedDigits("+886912345678"), "876543219688");
}

}  // namespace
}  // namespace regulars::members
