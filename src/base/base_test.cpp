#include <gtest/gtest.h>

#include <set>

#include "base/crypto.h"
#include "base/error.h"
#include "base/ids.h"
#include "base/phone.h"
#include "base/text.h"
#include "base/time.h"

namespace regulars {
namespace {

TEST(Phone, OneMemberManySpellings) {
  for (const char* raw : {"0912 345 678", "0912-345678", "+886912345678", "+886 912 345 678",
                          "(09)12345678", "886912345678"}) {
    auto p = NormalizePhone(raw, "TW");
    ASSERT_TRUE(p.has_value()) << raw << ": " << p.error().message;
    EXPECT_EQ(p->e164, "+886912345678") << raw;
    EXPECT_EQ(p->national, "0912 345 678") << raw;
  }
}

TEST(Phone, InvalidNamesTheFieldAndRegion) {
  struct Case {
    const char* raw;
    const char* message;
  } cases[] = {
      {"12345", "phone: not a valid number for region TW"},
      {"0912 345 67", "phone: not a valid number for region TW"},
      {"abc", "phone: is required"},
      {"", "phone: is required"},
      {"+1 201 555 01", "phone: not a valid number for region US"},
  };
  for (const auto& c : cases) {
    auto p = NormalizePhone(c.raw, "TW");
    ASSERT_FALSE(p.has_value()) << c.raw;
    EXPECT_EQ(p.error().code, Code::kInvalidArgument) << c.raw;
    EXPECT_EQ(p.error().field, "phone") << c.raw;
    EXPECT_EQ(p.error().message, c.message) << c.raw;
  }
}

TEST(Phone, ForeignNumbersWithPrefixAreKept) {
  auto p = NormalizePhone("+1 201-555-0123", "TW");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(p->e164, "+12015550123");
}

TEST(Text, TraditionalAndSimplifiedFoldTogether) {
  EXPECT_EQ(FoldForSearch("陳小明"), FoldForSearch("陈小明"));
  EXPECT_EQ(FoldForSearch("  Alice   LIU "), "alice liu");
  EXPECT_EQ(FoldForSearch("ＡＢＣ１２３"), "abc123");  // full width
  EXPECT_NE(FoldForSearch("陳小明"), FoldForSearch("林小明"));
}

TEST(Text, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("陳小明 abc"));
  EXPECT_FALSE(IsValidUtf8("\xff\xfe"));
  EXPECT_FALSE(IsValidUtf8("\xe9\x99"));  // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));  // overlong
  EXPECT_EQ(Utf8Length("陳小明a"), 4u);
}

TEST(Time, Rfc3339RoundTrip) {
  auto t = ParseRfc3339("2026-11-23T10:51:02.123Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatRfc3339(*t), "2026-11-23T10:51:02.123Z");
  auto offset = ParseRfc3339("2026-11-23T18:51:02.123+08:00");
  ASSERT_TRUE(offset.has_value());
  EXPECT_EQ(*offset, *t);
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000Z");
  for (const char* bad : {"2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-23",
                          "2026-11-23T10:51:02", "2026-11-23T10:51:02Zjunk"})
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
}

TEST(Time, BirthdaysWithAndWithoutYear) {
  EXPECT_EQ(ParseDate("1990-05-31"), (Date{1990, 5, 31}));
  EXPECT_EQ(ParseDate("--02-29"), (Date{0, 2, 29}));
  EXPECT_EQ(ParseDate("2000-02-29"), (Date{2000, 2, 29}));
  EXPECT_FALSE(ParseDate("1999-02-29").has_value());
  EXPECT_FALSE(ParseDate("--13-01").has_value());
  EXPECT_FALSE(ParseDate("1990/05/31").has_value());
  EXPECT_EQ(FormatDate({0, 2, 29}), "--02-29");
  EXPECT_EQ(FormatDate({1990, 5, 1}), "1990-05-01");
}

TEST(Ids, IncreasingAndUnique) {
  std::set<Id> seen;
  Id prev = 0;
  for (int i = 0; i < 100000; ++i) {
    Id id = NewId();
    ASSERT_GT(id, prev);
    prev = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100000u);
  EXPECT_EQ(ParseId(IdToString(prev)), prev);
  EXPECT_FALSE(ParseId("12a").has_value());
  EXPECT_FALSE(ParseId("-5").has_value());
  EXPECT_FALSE(ParseId("").has_value());
}

TEST(Crypto, PasswordHashIsArgon2idAndVerifies) {
  auto h = HashPassword("correct horse");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->rfind("$argon2id$", 0), 0u) << *h;
  EXPECT_TRUE(VerifyPassword("correct horse", *h));
  EXPECT_FALSE(VerifyPassword("correct horsE", *h));
  EXPECT_NE(*HashPassword("correct horse"), *h);  // salted
}

TEST(Crypto, TokensAndHashes) {
  EXPECT_NE(RandomToken(), RandomToken());
  EXPECT_EQ(RandomToken(32).size(), 43u);
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
}

}  // namespace
}  // namespace regulars

#include "base/zone.h"

namespace regulars {
namespace {

TEST(Zone, TaipeiHasNoDstAndIsUtcPlus8) {
  Micros t = *ParseRfc3339("2026-01-31T16:30:00Z");  // 00:30 on Feb 1 in Taipei
  auto lt = ToLocal(t, "Asia/Taipei");
  ASSERT_TRUE(lt.has_value());
  EXPECT_EQ(lt->month, 2);
  EXPECT_EQ(lt->day, 1);
  EXPECT_EQ(lt->hour, 0);
  EXPECT_EQ(lt->weekday, 0);  // a Sunday
  EXPECT_EQ(*FromLocal(2026, 2, 1, 0, 30, 0, "Asia/Taipei"), t);
  EXPECT_EQ(FormatRfc3339(*EndOfLocalDay(t, "Asia/Taipei")), "2026-02-01T16:00:00.000Z");
}

TEST(Zone, DstGapAndOverlap) {
  // New York springs forward 2026-03-08 02:00 -> 03:00; 02:30 does not exist.
  EXPECT_EQ(FormatRfc3339(*FromLocal(2026, 3, 8, 2, 30, 0, "America/New_York")),
            "2026-03-08T07:00:00.000Z");
  // Falls back 2026-11-01 02:00 -> 01:00; 01:30 happens twice, the earlier is chosen.
  EXPECT_EQ(FormatRfc3339(*FromLocal(2026, 11, 1, 1, 30, 0, "America/New_York")),
            "2026-11-01T05:30:00.000Z");
  EXPECT_EQ(ToLocal(0, "Mars/Olympus").error().message,
            "timezone: unknown time zone 'Mars/Olympus'");
}

}  // namespace
}  // namespace regulars
