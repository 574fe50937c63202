#include "messaging/policy.h"

#include <gtest/gtest.h>

namespace regulars::messaging {
namespace {

using K = Decision::Kind;
constexpr Micros kHour = 3600 * kMicrosPerSecond;

Micros T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

PolicySettings Taipei() {
  PolicySettings s;
  s.timezone = "Asia/Taipei";
  s.quiet_hours = QuietHours{21 * 60, 9 * 60};
  return s;
}

PolicyFacts Marketing(Medium m = Medium::kSms) {
  PolicyFacts f;
  f.purpose = Purpose::kMarketing;
  f.medium = m;
  f.consent = true;
  return f;
}

Decision D(const PolicySettings& s, const PolicyFacts& f, Micros now) {
  auto r = Decide(s, f, now);
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  return r.value_or(Decision{});
}

TEST(PolicyTest, TransactionalNeedsNoConsentAndIgnoresQuietHoursAndCaps) {
  PolicySettings s = Taipei();
  s.caps.push_back({Medium::kSms, kMicrosPerDay, 1, CapAction::kSkip});
  PolicyFacts f;
  f.purpose = Purpose::kTransactional;
  f.medium = Medium::kSms;
  f.consent = false;
  Micros now = T("2026-12-01T14:00:00Z");  // 22:00 in Taipei
  f.sent_at = {now - kHour};
  EXPECT_EQ(D(s, f, now), (Decision{K::kSend, 0, ""}));
}

TEST(PolicyTest, MarketingWithoutConsentIsSuppressed) {
  PolicyFacts f = Marketing();
  f.consent = std::nullopt;
  EXPECT_EQ(D(PolicySettings{}, f, T("2026-12-01T03:00:00Z")),
            (Decision{K::kSuppress, 0, "no_consent"}));
  f.consent = false;
  EXPECT_EQ(D(PolicySettings{}, f, T("2026-12-01T03:00:00Z")),
            (Decision{K::kSuppress, 0, "no_consent"}));
  f.consent = true;
  EXPECT_EQ(D(PolicySettings{}, f, T("2026-12-01T03:00:00Z")), (Decision{K::kSend, 0, ""}));
}

TEST(PolicyTest, BounceSuppressesEverythingUnsubscribeOnlyMarketing) {
  Micros now = T("2026-12-01T03:00:00Z");
  PolicyFacts tx;
  tx.purpose = Purpose::kTransactional;
  tx.suppression = SuppressionReason::kBounced;
  EXPECT_EQ(D(PolicySettings{}, tx, now), (Decision{K::kSuppress, 0, "bounced"}));
  tx.suppression = SuppressionReason::kUnsubscribed;
  EXPECT_EQ(D(PolicySettings{}, tx, now), (Decision{K::kSend, 0, ""}));
  tx.suppression = SuppressionReason::kComplaint;
  EXPECT_EQ(D(PolicySettings{}, tx, now), (Decision{K::kSend, 0, ""}));

  PolicyFacts mk = Marketing(Medium::kEmail);
  mk.suppression = SuppressionReason::kUnsubscribed;
  EXPECT_EQ(D(PolicySettings{}, mk, now), (Decision{K::kSuppress, 0, "unsubscribed"}));
  mk.suppression = SuppressionReason::kComplaint;
  EXPECT_EQ(D(PolicySettings{}, mk, now), (Decision{K::kSuppress, 0, "complaint"}));
  mk.suppression = SuppressionReason::kBounced;
  EXPECT_EQ(D(PolicySettings{}, mk, now), (Decision{K::kSuppress, 0, "bounced"}));
  // Suppression is checked before consent.
  mk.consent = false;
  EXPECT_EQ(D(PolicySettings{}, mk, now), (Decision{K::kSuppress, 0, "bounced"}));
}

TEST(PolicyTest, QuietHoursDeferMarketingToTheNextMorningInTheMerchantZone) {
  PolicySettings s = Taipei();
  PolicyFacts f = Marketing();
  // 22:00 local -> 09:00 local next day (01:00Z).
  EXPECT_EQ(D(s, f, T("2026-12-01T14:00:00Z")),
            (Decision{K::kDefer, T("2026-12-02T01:00:00Z"), "quiet_hours"}));
  // 21:00 exactly is quiet.
  EXPECT_EQ(D(s, f, T("2026-12-01T13:00:00Z")),
            (Decision{K::kDefer, T("2026-12-02T01:00:00Z"), "quiet_hours"}));
  // 00:30 local (after midnight) -> 09:00 the same local day.
  EXPECT_EQ(D(s, f, T("2026-12-01T16:30:00Z")),
            (Decision{K::kDefer, T("2026-12-02T01:00:00Z"), "quiet_hours"}));
  // 08:59 local -> one minute later.
  EXPECT_EQ(D(s, f, T("2026-12-02T00:59:00Z")),
            (Decision{K::kDefer, T("2026-12-02T01:00:00Z"), "quiet_hours"}));
  // 09:00 and 20:59 local are allowed.
  EXPECT_EQ(D(s, f, T("2026-12-02T01:00:00Z")), (Decision{K::kSend, 0, ""}));
  EXPECT_EQ(D(s, f, T("2026-12-01T12:59:00Z")), (Decision{K::kSend, 0, ""}));
  // Month and year boundaries.
  EXPECT_EQ(D(s, f, T("2026-12-31T15:00:00Z")),
            (Decision{K::kDefer, T("2027-01-01T01:00:00Z"), "quiet_hours"}));
}

TEST(PolicyTest, QuietHoursThatDoNotWrapMidnight) {
  PolicySettings s = Taipei();
  s.quiet_hours = QuietHours{12 * 60, 14 * 60};  // a lunch break
  PolicyFacts f = Marketing();
  EXPECT_EQ(D(s, f, T("2026-12-01T04:30:00Z")),  // 12:30 local
            (Decision{K::kDefer, T("2026-12-01T06:00:00Z"), "quiet_hours"}));
  EXPECT_EQ(D(s, f, T("2026-12-01T06:00:00Z")), (Decision{K::kSend, 0, ""}));
  EXPECT_EQ(D(s, f, T("2026-12-01T03:59:00Z")), (Decision{K::kSend, 0, ""}));
}

TEST(PolicyTest, QuietHoursAcrossDaylightSavingChanges) {
  PolicySettings s;
  s.timezone = "America/New_York";
  s.quiet_hours = QuietHours{21 * 60, 9 * 60};
  PolicyFacts f = Marketing();
  // Fall back on 2026-11-01: 22:00 EDT (02:00Z) -> 09:00 EST (14:00Z), a 12-hour night.
  EXPECT_EQ(D(s, f, T("2026-11-01T02:00:00Z")),
            (Decision{K::kDefer, T("2026-11-01T14:00:00Z"), "quiet_hours"}));
  // Spring forward on 2026-03-08: 22:00 EST (03:00Z) -> 09:00 EDT (13:00Z).
  EXPECT_EQ(D(s, f, T("2026-03-08T03:00:00Z")),
            (Decision{K::kDefer, T("2026-03-08T13:00:00Z"), "quiet_hours"}));
  // A quiet period ending inside the spring-forward gap (02:30 does not exist): the first
  // instant after the gap, 03:00 EDT = 07:00Z.
  s.quiet_hours = QuietHours{22 * 60, 2 * 60 + 30};
  EXPECT_EQ(D(s, f, T("2026-03-08T04:00:00Z")),  // 23:00 EST
            (Decision{K::kDefer, T("2026-03-08T07:00:00Z"), "quiet_hours"}));
}

TEST(PolicyTest, UnknownZoneIsAnError) {
  PolicySettings s;
  s.timezone = "Mars/Olympus";
  auto r = Decide(s, Marketing(), T("2026-12-01T03:00:00Z"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_EQ(r.error().field, "timezone");
}

TEST(PolicyTest, FrequencyCapDefersUntilTheOldestCountedSendLeavesTheWindow) {
  PolicySettings s;
  s.caps.push_back({Medium::kSms, kMicrosPerDay, 2, CapAction::kDefer});
  PolicyFacts f = Marketing();
  Micros now = T("2026-12-01T03:00:00Z");
  f.sent_at = {now - 1 * kHour, now - 20 * kHour};
  EXPECT_EQ(D(s, f, now), (Decision{K::kDefer, now + 4 * kHour, "frequency_cap"}));
  // Sends older than the window do not count.
  f.sent_at = {now - 1 * kHour, now - 24 * kHour, now - 30 * kHour};
  EXPECT_EQ(D(s, f, now), (Decision{K::kSend, 0, ""}));
  // Over the cap (three in the window, max 2): allowed again when two of them have left.
  f.sent_at = {now - 2 * kHour, now - 10 * kHour, now - 5 * kHour};
  EXPECT_EQ(D(s, f, now), (Decision{K::kDefer, now + 19 * kHour, "frequency_cap"}));
  // Caps apply per medium.
  PolicyFacts email = Marketing(Medium::kEmail);
  email.sent_at = {now - 1 * kHour, now - 2 * kHour, now - 3 * kHour};
  EXPECT_EQ(D(s, email, now), (Decision{K::kSend, 0, ""}));
}

TEST(PolicyTest, FrequencyCapSkipAndWeekAndTheMostRestrictiveCap) {
  PolicySettings s;
  s.caps.push_back({Medium::kEmail, 7 * kMicrosPerDay, 3, CapAction::kDefer});
  s.caps.push_back({Medium::kEmail, kMicrosPerDay, 1, CapAction::kDefer});
  PolicyFacts f = Marketing(Medium::kEmail);
  Micros now = T("2026-12-01T03:00:00Z");
  f.sent_at = {now - 6 * kMicrosPerDay, now - 3 * kMicrosPerDay, now - 2 * kHour};
  // Week cap: free when the send of 6 days ago leaves (in 1 day); day cap: in 22 hours.
  EXPECT_EQ(D(s, f, now), (Decision{K::kDefer, now + kMicrosPerDay, "frequency_cap"}));
  s.caps[1].action = CapAction::kSkip;
  EXPECT_EQ(D(s, f, now), (Decision{K::kSkip, 0, "frequency_cap"}));
}

TEST(PolicyTest, QuietHoursComeBeforeCaps) {
  PolicySettings s = Taipei();
  s.caps.push_back({Medium::kSms, kMicrosPerDay, 1, CapAction::kSkip});
  PolicyFacts f = Marketing();
  Micros now = T("2026-12-01T14:00:00Z");
  f.sent_at = {now - kHour};
  EXPECT_EQ(D(s, f, now), (Decision{K::kDefer, T("2026-12-02T01:00:00Z"), "quiet_hours"}));
}

TEST(PolicyTest, ParsesSettingsAndNamesTheBadField) {
  auto s = ParsePolicySettings(nlohmann::json::parse(R"({
      "quiet_hours": {"start": "21:30", "end": "08:00"},
      "caps": [{"medium": "sms", "period": "week", "max": 3, "action": "skip"}]})"),
                               "Asia/Taipei");
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ(s->quiet_hours->start_minute, 21 * 60 + 30);
  EXPECT_EQ(s->quiet_hours->end_minute, 8 * 60);
  ASSERT_EQ(s->caps.size(), 1u);
  EXPECT_EQ(s->caps[0].period, 7 * kMicrosPerDay);
  EXPECT_EQ(s->caps[0].max, 3);
  EXPECT_EQ(s->caps[0].action, CapAction::kSkip);
  EXPECT_EQ(PolicySettingsToJson(*s).dump(),
            R"({"caps":[{"action":"skip","max":3,"medium":"sms","period":"week"}],)"
            R"("quiet_hours":{"end":"08:00","start":"21:30"}})");

  struct Case {
    const char* json;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"quiet_hours": {"start": "25:00", "end": "08:00"}})",
            "quiet_hours.start: must be a time between 00:00 and 23:59"},
           {R"({"quiet_hours": {"start": "21:00"}})", "quiet_hours.end: required"},
           {R"({"quiet_hours": {"start": "9:00", "end": "08:00"}})",
            "quiet_hours.start: must be \"HH:MM\""},
           {R"({"quiet_hours": {"start": "08:00", "end": "08:00"}})",
            "quiet_hours.end: must differ from quiet_hours.start"},
           {R"({"caps": [{"medium": "sms", "period": "day", "max": 1},
                         {"medium": "sms", "period": "month", "max": 1}]})",
            "caps[1].period: must be \"day\" or \"week\""},
           {R"({"caps": [{"medium": "fax", "period": "day", "max": 1}]})",
            "caps[0].medium: must be email, sms, line or webhook"},
           {R"({"caps": [{"medium": "sms", "period": "day", "max": 0}]})",
            "caps[0].max: must be an integer from 1 to 1000"},
           {R"({"caps": [{"medium": "sms", "period": "day", "max": 1, "action": "drop"}]})",
            "caps[0].action: must be \"defer\" or \"skip\""},
       }) {
    auto r = ParsePolicySettings(nlohmann::json::parse(c.json), "Asia/Taipei");
    ASSERT_FALSE(r.has_value()) << c.json;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_EQ(r.error().message, c.message);
  }
  auto bad_zone = ParsePolicySettings(nlohmann::json::object(), "Nowhere/City");
  ASSERT_FALSE(bad_zone.has_value());
  EXPECT_EQ(bad_zone.error().field, "timezone");
}

TEST(PolicyTest, AnOptInAfterAnUnsubscribeLiftsItButNotABounceOrComplaint) {
  Micros now = T("2026-12-01T03:00:00Z");
  PolicyFacts mk = Marketing(Medium::kEmail);
  mk.suppression = SuppressionReason::kUnsubscribed;
  mk.suppressed_at = T("2026-11-01T00:00:00Z");
  mk.consent = true;
  mk.consent_changed_at = T("2026-10-31T23:59:59Z");  // the grant the unsubscribe overrode
  EXPECT_EQ(D(PolicySettings{}, mk, now), (Decision{K::kSuppress, 0, "unsubscribed"}));
  mk.consent_changed_at = mk.suppressed_at;  // same instant: not after
  EXPECT_EQ(D(PolicySettings{}, mk, now), (Decision{K::kSuppress, 0, "unsubscribed"}));
  mk.consent_changed_at = T("2026-11-20T10:00:00Z");  // opted in again at the counter
  EXPECT_EQ(D(PolicySettings{}, mk, now), (Decision{K::kSend, 0, ""}));
  mk.consent = false;  // withdrawn again later: the unsubscribe counts again
  EXPECT_EQ(D(PolicySettings{}, mk, now), (Decision{K::kSuppress, 0, "unsubscribed"}));
  mk.consent = true;
  mk.suppression = SuppressionReason::kComplaint;
  EXPECT_EQ(D(PolicySettings{}, mk, now), (Decision{K::kSuppress, 0, "complaint"}));
  mk.suppression = SuppressionReason::kBounced;
  EXPECT_EQ(D(PolicySettings{}, mk, now), (Decision{K::kSuppress, 0, "bounced"}));
}

}  // namespace
}  // namespace regulars::messaging
