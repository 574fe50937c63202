#include "members/member_service.h"

#include <gtest/gtest.h>

#include "accounts/account_service.h"
#include "commerce/branch_service.h"
#include "events/event_repo.h"
#include "store/testing.h"

namespace regulars::members {
namespace {

using accounts::Actor;

class MemberServiceTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    for (Id* m : {&merchant_, &other_merchant_}) {
      auto r = db().WriteValue([&](store::Tx& tx) {
        accounts::Merchant in;
        in.name = "Shop";
        return accounts::CreateMerchant(tx, clock_.Now(), in);
      });
      ASSERT_TRUE(r.has_value()) << r.error().ToString();
      *m = r->id;
    }
  }
  Actor As(Id merchant) {
    Actor a = accounts::SystemActor(merchant, clock_.Now());
    a.staff_id = 5;
    return a;
  }
  Result<Member> Create(MemberInput in, Id merchant = 0) {
    return db().WriteValue([&](store::Tx& tx) {
      return CreateMember(tx, As(merchant ? merchant : merchant_), mc_, in);
    });
  }
  Result<Page<Member>> Search(std::string q) {
    return db().ReadValue(
        [&](store::Tx& tx) { return SearchMembers(tx, As(merchant_), mc_, q, std::nullopt, 50); });
  }

  Id merchant_ = 0, other_merchant_ = 0;
  MerchantContext mc_;
};

TEST_P(MemberServiceTest, OnePhoneManySpellingsIsOneMember) {
  auto first = Create({.phone = "0912 345 678", .name = std::optional<std::string>("陳小明")});
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(*first->phone, "+886912345678");
  for (const char* spelling : {"0912-345678", "+886912345678"}) {
    auto dup = Create({.phone = spelling});
    ASSERT_FALSE(dup.has_value()) << spelling;
    EXPECT_EQ(dup.error().code, Code::kAlreadyExists);
    EXPECT_EQ(dup.error().field, "phone");
    ASSERT_EQ(dup.error().details.size(), 1u);
    EXPECT_EQ(dup.error().details[0],
              (std::pair<std::string, std::string>{"member_id", IdToString(first->id)}));
  }
  auto found = db().ReadValue(
      [&](store::Tx& tx) { return LookupByPhone(tx, As(merchant_), mc_, "+886 912-345-678"); });
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, first->id);
  // The same phone at another merchant is another member.
  EXPECT_TRUE(Create({.phone = "0912345678"}, other_merchant_).has_value());
}

TEST_P(MemberServiceTest, InvalidInputWritesNothing) {
  auto bad = Create({.phone = "0912345678", .email = std::optional<std::string>("nope")});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message, "email: is not a valid e-mail address");
  auto count = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT (SELECT COUNT(*) FROM members) + (SELECT "
                                         "COUNT(*) FROM events)"));
    return r[0].Int(0);
  });
  EXPECT_EQ(*count, 0);
}

TEST_P(MemberServiceTest, SearchByPhoneSuffixNameEmailAcrossScripts) {
  ASSERT_TRUE(Create({.phone = "0912345678",
                      .name = std::optional<std::string>("陳小明"),
                      .email = std::optional<std::string>("ming@example.com")}));
  ASSERT_TRUE(Create({.phone = "0922000111", .name = std::optional<std::string>("林美玲")}));
  ASSERT_TRUE(Create({.phone = "0933000678", .name = std::optional<std::string>("Alice Wang")}));
  struct Case {
    const char* q;
    std::vector<std::string> names;
  } cases[] = {
      {"陈小明", {"陳小明"}},  // Simplified finds Traditional
      {"小明", {"陳小明"}},
      {"陳", {"陳小明"}},
      {"678", {"Alice Wang", "陳小明"}},  // newest first
      {"5678", {"陳小明"}},
      {"0912-345-678", {"陳小明"}},
      {"ming@", {"陳小明"}},
      {"ALICE", {"Alice Wang"}},
      {"nobody", {}},
  };
  for (const auto& c : cases) {
    auto r = Search(c.q);
    ASSERT_TRUE(r.has_value()) << c.q << ": " << r.error().ToString();
    std::vector<std::string> names;
    for (const auto& m : r->items) names.push_back(m.name.value_or(""));
    EXPECT_EQ(names, c.names) << "q=" << c.q;
  }
  auto two_digits = Search("78");
  EXPECT_EQ(two_digits.error().message, "q: give at least 3 digits of a phone number");
  // Traditional query finds a Simplified name too.
  ASSERT_TRUE(Create({.phone = "0955111222", .name = std::optional<std::string>("张伟")}));
  auto trad = Search("張偉");
  ASSERT_EQ(trad->items.size(), 1u);
  EXPECT_EQ(*trad->items[0].name, "张伟");
}

TEST_P(MemberServiceTest, PagingWithCursor) {
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(Create({.phone = "09120000" + std::to_string(10 + i)}));
  std::vector<Id> seen;
  std::optional<std::string> cursor;
  int pages = 0;
  do {
    auto p = db().ReadValue(
        [&](store::Tx& tx) { return SearchMembers(tx, As(merchant_), mc_, "", cursor, 3); });
    ASSERT_TRUE(p.has_value());
    for (auto& m : p->items) seen.push_back(m.id);
    cursor = p->next_cursor;
    ++pages;
  } while (cursor);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_TRUE(std::is_sorted(seen.rbegin(), seen.rend()));
}

TEST_P(MemberServiceTest, ConsentIsRecordedWithWhoWhereHow) {
  auto b = db().WriteValue([&](store::Tx& tx) {
    commerce::BranchPatch p;
    p.name = "Main";
    return commerce::CreateBranch(tx, As(merchant_), p);
  });
  MemberInput in{.phone = "0912345678"};
  in.consent = {{Channel::kSms, true}};
  in.consent_source = "counter";
  in.branch_id = b->id;
  auto m = Create(in);
  ASSERT_TRUE(m.has_value()) << m.error().ToString();
  const auto& sms = m->consent[0];
  ASSERT_TRUE(sms.has_value());
  EXPECT_TRUE(sms->granted);
  EXPECT_EQ(sms->source, "counter");
  EXPECT_EQ(sms->branch_id, b->id);
  EXPECT_EQ(sms->staff_id, 5);
  EXPECT_FALSE(m->consent[1].has_value());
  clock_.Advance(kMicrosPerSecond);
  MemberInput off;
  off.consent = {{Channel::kSms, false}};
  off.consent_source = "console";
  auto u = db().WriteValue(
      [&](store::Tx& tx) { return UpdateMember(tx, As(merchant_), mc_, m->id, off); });
  ASSERT_TRUE(u.has_value());
  EXPECT_FALSE(u->consent[0]->granted);
  auto t = db().ReadValue(
      [&](store::Tx& tx) { return events::MemberEvents(tx, merchant_, m->id, 0, 10); });
  ASSERT_TRUE(t.has_value());
  std::vector<std::string> types;
  for (auto& e : *t) types.push_back(e.type);
  EXPECT_EQ(types,
            (std::vector<std::string>{"consent_changed", "member_created", "consent_changed"}));
}

TEST_P(MemberServiceTest, MergeMovesPhoneIdentitiesAndTimeline) {
  auto a = Create({.phone = "0912345678", .name = std::optional<std::string>("A")});
  auto b = Create({.phone = "0922333444",
                   .email = std::optional<std::string>("b@example.com"),
                   .tags = std::vector<std::string>{"online"}});
  auto merged =
      db().WriteValue([&](store::Tx& tx) { return MergeMembers(tx, As(merchant_), a->id, b->id); });
  ASSERT_TRUE(merged.has_value()) << merged.error().ToString();
  EXPECT_EQ(*merged->email, "b@example.com");
  EXPECT_EQ(merged->tags, std::vector<std::string>{"online"});
  auto by_old_phone = db().ReadValue(
      [&](store::Tx& tx) { return LookupByPhone(tx, As(merchant_), mc_, "0922333444"); });
  ASSERT_TRUE(by_old_phone.has_value());
  EXPECT_EQ(by_old_phone->id, a->id);
  auto t = db().ReadValue(
      [&](store::Tx& tx) { return events::MemberEvents(tx, merchant_, a->id, 0, 10); });
  EXPECT_EQ(t->size(), 3u);  // two member_created + member_merged
  auto again =
      db().WriteValue([&](store::Tx& tx) { return MergeMembers(tx, As(merchant_), a->id, b->id); });
  EXPECT_EQ(again.error().code, Code::kFailedPrecondition);
  // The merged-away phone is free for a new registration? No: it still belongs to A.
  auto dup = Create({.phone = "0922333444"});
  EXPECT_EQ(dup.error().code, Code::kAlreadyExists);
}

TEST_P(MemberServiceTest, EraseKeepsTheRowAndDropsPersonalData) {
  auto m = Create({.phone = "0912345678",
                   .name = std::optional<std::string>("陳小明"),
                   .email = std::optional<std::string>("m@example.com")});
  auto e = db().WriteValue([&](store::Tx& tx) { return EraseMember(tx, As(merchant_), m->id); });
  ASSERT_TRUE(e.has_value());
  auto raw = db().ReadValue([&](store::Tx& tx) -> Result<std::string> {
    RG_ASSIGN_OR_RETURN(auto r, tx.Query("SELECT COALESCE(phone, '') || COALESCE(name, '') || "
                                         "COALESCE(email, '') || COALESCE(name_fold, '') || "
                                         "COALESCE(phone_rev, '') FROM members WHERE id = ?",
                                         {m->id}));
    return r[0].Str(0);
  });
  EXPECT_EQ(*raw, "");
  EXPECT_TRUE(Search("陳小明")->items.empty());
  EXPECT_TRUE(Create({.phone = "0912345678"}).has_value());  // the number is free again
}

TEST_P(MemberServiceTest, AnotherMerchantSeesNotFound) {
  auto m = Create({.phone = "0912345678"});
  Actor other = As(other_merchant_);
  auto g = db().ReadValue([&](store::Tx& tx) { return GetMember(tx, other, m->id); });
  EXPECT_EQ(g.error().code, Code::kNotFound);
  auto u = db().WriteValue([&](store::Tx& tx) {
    return UpdateMember(tx, other, mc_, m->id, {.name = std::optional<std::string>("x")});
  });
  EXPECT_EQ(u.error().code, Code::kNotFound);
  auto e = db().WriteValue([&](store::Tx& tx) { return EraseMember(tx, other, m->id); });
  EXPECT_EQ(e.error().code, Code::kNotFound);
}

RG_INSTANTIATE_BACKENDS(MemberServiceTest);

}  // namespace
}  // namespace regulars::members
