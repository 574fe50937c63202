// The prepaid wallet's use cases on every database: bonus top-ups, proportional charges,
// refunds back to the parts a charge took, adjustments for managers only, tenancy, and the
// audit. The concurrency tests prove the one property money needs most: with 16 charges (or 8
// refunds) racing on one wallet, the wallet never goes below zero, no success is lost, and the
// ledger still adds up (CheckWallets finds nothing).

#include "loyalty/wallet_service.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

#include "accounts/account_service.h"
#include "events/event_repo.h"
#include "members/member_service.h"
#include "store/testing.h"

namespace regulars::loyalty {

// Readable failures for balances.
inline void PrintTo(const WalletBalance& b, std::ostream* os) {
  *os << "{paid " << b.paid_minor << ", bonus " << b.bonus_minor << "}";
}

namespace {

using accounts::Actor;

class WalletServiceTest : public store::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    for (auto [merchant, member] :
         {std::pair{&merchant_, &member_}, std::pair{&other_merchant_, &other_member_}}) {
      auto r = db().Write([&](store::Tx& tx) -> Status {
        accounts::Merchant in;
        in.name = "Tea House";
        RG_ASSIGN_OR_RETURN(auto m, accounts::CreateMerchant(tx, clock_.Now(), in));
        *merchant = m.id;
        members::MemberInput mi;
        mi.phone = "0912345678";
        RG_ASSIGN_OR_RETURN(auto mem, members::CreateMember(tx, Owner(m.id), {}, mi));
        *member = mem.id;
        return {};
      });
      ASSERT_TRUE(r.has_value()) << r.error().ToString();
    }
  }

  Actor Owner(Id merchant = 0) {
    Actor a = accounts::SystemActor(merchant ? merchant : merchant_, clock_.Now());
    a.staff_id = 5;
    return a;
  }
  Actor Cashier() {
    Actor a = Owner();
    a.role = accounts::Role::kCashier;
    a.staff_id = 6;
    return a;
  }

  template <class F>
  auto W(F&& fn) {
    return db().WriteValue(std::forward<F>(fn));
  }
  Result<WalletChange> DoTopUp(int64_t amount, WalletTopUpInput in = {}) {
    in.amount_minor = amount;
    return W([&](store::Tx& tx) { return TopUpWallet(tx, Owner(), wc_, member_, in); });
  }
  Result<WalletChange> DoCharge(int64_t amount, Actor actor) {
    return W([&](store::Tx& tx) {
      return ChargeWallet(tx, actor, wc_, member_, {.amount_minor = amount, .order_id = "POS-1"});
    });
  }
  Result<WalletChange> DoCharge(int64_t amount) { return DoCharge(amount, Cashier()); }
  Result<WalletChange> DoRefund(Id charge_id, std::optional<int64_t> amount) {
    return W([&](store::Tx& tx) {
      return RefundWalletCharge(tx, Cashier(), wc_, member_,
                                {.charge_id = charge_id, .amount_minor = amount});
    });
  }
  WalletBalance Balance(Id member = 0) {
    auto v = db().ReadValue([&](store::Tx& tx) {
      return GetWallet(tx, Owner(), member ? member : member_, std::nullopt, 50);
    });
    EXPECT_TRUE(v.has_value()) << v.error().ToString();
    return v ? v->balance : WalletBalance{-1, -1};
  }
  int64_t Count(const std::string& table) {
    auto r = db().ReadValue([&](store::Tx& tx) -> Result<int64_t> {
      RG_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM " + table));
      return rows[0].Int(0);
    });
    return r.value_or(-1);
  }
  std::vector<std::string> Problems() {
    std::vector<std::string> problems;
    auto s = db().Read([&](store::Tx& tx) { return CheckWallets(tx, &problems); });
    EXPECT_TRUE(s.has_value()) << s.error().ToString();
    return problems;
  }
  Result<BonusScheme> NewScheme(int64_t pay, int64_t bonus, bool repeats = false) {
    return W([&](store::Tx& tx) {
      return CreateBonusScheme(
          tx, Owner(),
          {.name = "Pay " + std::to_string(pay / 100) + " get " + std::to_string(bonus / 100),
           .pay_minor = pay,
           .bonus_minor = bonus,
           .repeats = repeats});
    });
  }
  std::vector<events::Event> Events() {
    auto r =
        db().ReadValue([&](store::Tx& tx) { return events::ReadEvents(tx, merchant_, 0, 1000); });
    return r.value_or(std::vector<events::Event>{});
  }

  Id merchant_ = 0, other_merchant_ = 0, member_ = 0, other_member_ = 0;
  WalletContext wc_{"TWD"};
};

TEST_P(WalletServiceTest, TopUpGetsTheBestBonusAndSaysTheBalanceAfter) {
  ASSERT_TRUE(NewScheme(100000, 10000));  // pay 1,000 get 100
  auto big = NewScheme(300000, 40000);    // pay 3,000 get 400
  ASSERT_TRUE(big);
  auto r = DoTopUp(100000, {.payment_method = "cash", .note = "counter"});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->entry.kind, WalletEntryKind::kTopUp);
  EXPECT_EQ(r->entry.paid_minor, 100000);
  EXPECT_EQ(r->entry.bonus_minor, 10000);
  EXPECT_EQ(r->entry.seq, 1);
  EXPECT_EQ(r->balance, (WalletBalance{100000, 10000}));
  EXPECT_EQ(r->entry.currency, "TWD");
  EXPECT_EQ(r->entry.staff_id, 5);

  auto r2 = DoTopUp(350000);
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->entry.scheme_id, big->id);  // one scheme, not stacked
  EXPECT_EQ(r2->entry.bonus_minor, 40000);
  EXPECT_EQ(r2->balance, (WalletBalance{450000, 50000}));
  auto small = DoTopUp(50000);
  EXPECT_EQ(small->entry.bonus_minor, 0);
  EXPECT_FALSE(small->entry.scheme_id.has_value());
  EXPECT_EQ(Balance(), (WalletBalance{500000, 50000}));

  // The e-receipt event carries the amounts and the balance after.
  auto evs = Events();
  ASSERT_FALSE(evs.empty());
  const events::Event& last = evs.back();
  EXPECT_EQ(last.type, "wallet_topped_up");
  EXPECT_EQ(last.member_id, member_);
  auto data = nlohmann::json::parse(last.data);
  EXPECT_EQ(data["amount_minor"], 50000);
  EXPECT_EQ(data["paid_minor"], 50000);
  EXPECT_EQ(data["bonus_minor"], 0);
  EXPECT_EQ(data["balance"]["paid_minor"], 500000);
  EXPECT_EQ(data["balance"]["bonus_minor"], 50000);
  EXPECT_EQ(data["balance"]["total_minor"], 550000);
  EXPECT_EQ(data["currency"], "TWD");
  EXPECT_EQ(data["entry_id"], IdToString(small->entry.id));
  EXPECT_TRUE(Problems().empty());
}

TEST_P(WalletServiceTest, ChosenSchemeMustBeInForceAndReached) {
  auto s = NewScheme(100000, 10000);
  ASSERT_TRUE(s);
  auto low = DoTopUp(90000, {.scheme_id = s->id});
  ASSERT_FALSE(low.has_value());
  EXPECT_EQ(low.error().message,
            "amount_minor: this bonus scheme needs a top-up of at least 100000");
  ASSERT_TRUE(
      W([&](store::Tx& tx) { return UpdateBonusScheme(tx, Owner(), s->id, {.active = false}); }));
  EXPECT_EQ(DoTopUp(100000, {.scheme_id = s->id}).error().message,
            "scheme_id: this bonus scheme is not in force");
  EXPECT_EQ(DoTopUp(100000)->entry.bonus_minor, 0);  // retired schemes give nothing
  EXPECT_EQ(DoTopUp(100000, {.scheme_id = 12345}).error().message,
            "scheme_id: bonus scheme not found");
  EXPECT_EQ(Count("wallet_entries"), 1);
}

TEST_P(WalletServiceTest, ChargeSplitsProportionallyAndRefundsGoBackToTheSameParts) {
  ASSERT_TRUE(NewScheme(100000, 10000));
  ASSERT_TRUE(DoTopUp(100000));  // 1,000 paid + 100 bonus
  auto c1 = DoCharge(55000);
  ASSERT_TRUE(c1.has_value()) << c1.error().ToString();
  EXPECT_EQ(c1->entry.paid_minor, -50000);
  EXPECT_EQ(c1->entry.bonus_minor, -5000);
  EXPECT_EQ(c1->entry.order_id, "POS-1");
  EXPECT_EQ(c1->balance, (WalletBalance{50000, 5000}));
  auto c2 = DoCharge(11);  // 10.0 paid + 1.0 bonus
  ASSERT_TRUE(c2.has_value());
  EXPECT_EQ(c2->balance, (WalletBalance{49990, 4999}));

  // A partial refund of the first charge, in its proportion (rounding towards paid).
  auto r1 = DoRefund(c1->entry.id, 20000);
  ASSERT_TRUE(r1.has_value()) << r1.error().ToString();
  EXPECT_EQ(r1->entry.paid_minor, 18182);
  EXPECT_EQ(r1->entry.bonus_minor, 1818);
  EXPECT_EQ(r1->entry.related_entry_id, c1->entry.id);
  EXPECT_EQ(r1->entry.order_id, "POS-1");
  EXPECT_EQ(r1->balance, (WalletBalance{68172, 6817}));

  // More than is left: refused, exactly, with nothing written.
  int64_t entries = Count("wallet_entries"), evs = Count("events");
  auto over = DoRefund(c1->entry.id, 35001);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(over.error().message, "amount_minor: only 35000 of this charge can still be refunded");
  EXPECT_EQ(over.error().field, "amount_minor");
  EXPECT_EQ(Count("wallet_entries"), entries);
  EXPECT_EQ(Count("events"), evs);

  // The rest: together the refunds give back exactly what the charge took.
  auto r2 = DoRefund(c1->entry.id, std::nullopt);
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->entry.paid_minor + r1->entry.paid_minor, 50000);
  EXPECT_EQ(r2->entry.bonus_minor + r1->entry.bonus_minor, 5000);
  EXPECT_EQ(r2->balance, (WalletBalance{99990, 9999}));
  auto again = DoRefund(c1->entry.id, 1);
  EXPECT_EQ(again.error().message, "charge_id: this charge was already refunded in full");

  // Only charges of this member can be refunded.
  auto topup_id = DoTopUp(100)->entry.id;
  auto not_charge = DoRefund(topup_id, 1);
  EXPECT_EQ(not_charge.error().code, Code::kNotFound);
  EXPECT_EQ(not_charge.error().message, "charge_id: charge not found");

  // The listing shows how much of each charge was refunded.
  auto view = db().ReadValue(
      [&](store::Tx& tx) { return GetWallet(tx, Owner(), member_, std::nullopt, 50); });
  ASSERT_TRUE(view.has_value());
  for (const auto& e : view->entries) {
    if (e.id == c1->entry.id) {
      EXPECT_EQ(e.refunded_minor, 55000);
    }
    if (e.id == c2->entry.id) {
      EXPECT_EQ(e.refunded_minor, 0);
    }
  }
  EXPECT_TRUE(Problems().empty());
}

TEST_P(WalletServiceTest, InsufficientBalanceIsRefusedAndWritesNothing) {
  ASSERT_TRUE(DoTopUp(30000));
  int64_t entries = Count("wallet_entries"), evs = Count("events");
  auto r = DoCharge(30001);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(r.error().message, "amount_minor: the wallet holds only 30000");
  EXPECT_EQ(r.error().field, "amount_minor");
  EXPECT_EQ(Count("wallet_entries"), entries);
  EXPECT_EQ(Count("events"), evs);
  EXPECT_EQ(Balance(), (WalletBalance{30000, 0}));
  // A member who never topped up holds nothing.
  auto fresh = W([&](store::Tx& tx) -> Result<Id> {
    members::MemberInput mi;
    mi.phone = "0922000111";
    RG_ASSIGN_OR_RETURN(auto m, members::CreateMember(tx, Owner(), {}, mi));
    return m.id;
  });
  ASSERT_TRUE(fresh);
  auto none = W(
      [&](store::Tx& tx) { return ChargeWallet(tx, Cashier(), wc_, *fresh, {.amount_minor = 1}); });
  EXPECT_EQ(none.error().message, "amount_minor: the wallet holds only 0");
  EXPECT_EQ(Count("wallet_balances"), 1);
}

TEST_P(WalletServiceTest, AdjustmentsAreForManagersWithAReason) {
  ASSERT_TRUE(DoTopUp(10000));
  auto cashier = W([&](store::Tx& tx) {
    return AdjustWallet(tx, Cashier(), wc_, member_, {.bonus_minor = 500, .reason = "goodwill"});
  });
  ASSERT_FALSE(cashier.has_value());
  EXPECT_EQ(cashier.error().code, Code::kPermissionDenied);
  EXPECT_EQ(cashier.error().message, "only an owner or manager may adjust a wallet");
  auto no_reason = W(
      [&](store::Tx& tx) { return AdjustWallet(tx, Owner(), wc_, member_, {.bonus_minor = 500}); });
  EXPECT_EQ(no_reason.error().message, "reason: is required");
  Actor manager = Owner();
  manager.role = accounts::Role::kManager;
  auto ok = W([&](store::Tx& tx) {
    return AdjustWallet(tx, manager, wc_, member_,
                        {.paid_minor = -2000, .bonus_minor = 500, .reason = "goodwill"});
  });
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(ok->balance, (WalletBalance{8000, 500}));
  EXPECT_EQ(ok->entry.reason, "goodwill");
  auto below = W([&](store::Tx& tx) {
    return AdjustWallet(tx, manager, wc_, member_, {.bonus_minor = -501, .reason = "oops"});
  });
  EXPECT_EQ(below.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(below.error().message, "bonus_minor: the wallet holds only 500 of bonus value");
  EXPECT_EQ(Events().back().type, "wallet_adjusted");
  EXPECT_TRUE(Problems().empty());
}

TEST_P(WalletServiceTest, AnotherMerchantsMemberAndSchemeAreNotFound) {
  ASSERT_TRUE(DoTopUp(10000));
  auto theirs = W([&](store::Tx& tx) {
    return TopUpWallet(tx, Owner(other_merchant_), wc_, member_, {.amount_minor = 100});
  });
  EXPECT_EQ(theirs.error().code, Code::kNotFound);
  EXPECT_EQ(theirs.error().message, "member not found");
  auto charge = W([&](store::Tx& tx) {
    return ChargeWallet(tx, Owner(other_merchant_), wc_, member_, {.amount_minor = 100});
  });
  EXPECT_EQ(charge.error().code, Code::kNotFound);
  auto adjust = W([&](store::Tx& tx) {
    return AdjustWallet(tx, Owner(other_merchant_), wc_, member_,
                        {.paid_minor = -100, .reason = "steal"});
  });
  EXPECT_EQ(adjust.error().code, Code::kNotFound);
  auto read = db().ReadValue([&](store::Tx& tx) {
    return GetWallet(tx, Owner(other_merchant_), member_, std::nullopt, 50);
  });
  EXPECT_EQ(read.error().code, Code::kNotFound);
  // A charge of A's member cannot be refunded through B's member.
  auto c = DoCharge(100);
  ASSERT_TRUE(c);
  auto refund = W([&](store::Tx& tx) {
    return RefundWalletCharge(tx, Owner(other_merchant_), wc_, other_member_,
                              {.charge_id = c->entry.id});
  });
  EXPECT_EQ(refund.error().code, Code::kNotFound);
  EXPECT_EQ(refund.error().message, "charge_id: charge not found");
  // Schemes.
  auto s = NewScheme(100, 10);
  ASSERT_TRUE(s);
  auto patch = W([&](store::Tx& tx) {
    return UpdateBonusScheme(tx, Owner(other_merchant_), s->id, {.name = "stolen"});
  });
  EXPECT_EQ(patch.error().code, Code::kNotFound);
  auto use = W([&](store::Tx& tx) {
    return TopUpWallet(tx, Owner(other_merchant_), wc_, other_member_,
                       {.amount_minor = 100, .scheme_id = s->id});
  });
  EXPECT_EQ(use.error().message, "scheme_id: bonus scheme not found");
  auto list = db().ReadValue([&](store::Tx& tx) {
    return ListBonusSchemes(tx, Owner(other_merchant_), std::nullopt, 50);
  });
  EXPECT_TRUE(list->items.empty());
  EXPECT_EQ(Balance(), (WalletBalance{9900, 0}));
}

TEST_P(WalletServiceTest, MergedAwayAndErasedMembers) {
  auto other = W([&](store::Tx& tx) -> Result<Id> {
    members::MemberInput mi;
    mi.phone = "0933000111";
    RG_ASSIGN_OR_RETURN(auto m, members::CreateMember(tx, Owner(), {}, mi));
    return m.id;
  });
  ASSERT_TRUE(other);
  ASSERT_TRUE(
      W([&](store::Tx& tx) { return members::MergeMembers(tx, Owner(), member_, *other); }));
  auto merged = W(
      [&](store::Tx& tx) { return TopUpWallet(tx, Owner(), wc_, *other, {.amount_minor = 100}); });
  EXPECT_EQ(merged.error().code, Code::kFailedPrecondition);
  EXPECT_EQ(merged.error().message, "member was merged into another member");
  ASSERT_TRUE(DoTopUp(100));
  ASSERT_TRUE(W([&](store::Tx& tx) { return members::EraseMember(tx, Owner(), member_); }));
  EXPECT_EQ(DoTopUp(100).error().message, "member was erased");
  EXPECT_TRUE(DoCharge(100).has_value());  // what is left can still be spent
}

TEST_P(WalletServiceTest, MergeMovesTheWholeWalletPartsApart) {
  ASSERT_TRUE(NewScheme(100000, 10000));
  ASSERT_TRUE(DoTopUp(100000));
  auto other = W([&](store::Tx& tx) -> Result<Id> {
    members::MemberInput mi;
    mi.phone = "0933000111";
    RG_ASSIGN_OR_RETURN(auto m, members::CreateMember(tx, Owner(), {}, mi));
    RG_TRY(TopUpWallet(tx, Owner(), wc_, m.id, {.amount_minor = 200000}));
    RG_TRY(ChargeWallet(tx, Owner(), wc_, m.id, {.amount_minor = 1100}));
    return m.id;
  });
  ASSERT_TRUE(other) << other.error().ToString();
  EXPECT_EQ(Balance(*other), (WalletBalance{198952, 9948}));  // 1,100 = 1,048 + 52
  auto merged = W([&](store::Tx& tx) -> Result<bool> {
    RG_TRY(members::MergeMembers(tx, Owner(), member_, *other));
    RG_TRY(MergeWallets(tx, Owner(), wc_, member_, *other));
    return true;
  });
  ASSERT_TRUE(merged) << merged.error().ToString();
  EXPECT_EQ(Balance(), (WalletBalance{298952, 19948}));
  EXPECT_EQ(Balance(*other), (WalletBalance{0, 0}));
  EXPECT_EQ(Events().back().type, "wallet_merged");
  // Merging an empty wallet changes nothing.
  int64_t entries = Count("wallet_entries");
  ASSERT_TRUE(W([&](store::Tx& tx) -> Result<bool> {
    RG_TRY(MergeWallets(tx, Owner(), wc_, member_, *other));
    return true;
  }));
  EXPECT_EQ(Count("wallet_entries"), entries);
  std::vector<std::string> problems = Problems();
  EXPECT_TRUE(problems.empty()) << problems.front();
}

TEST_P(WalletServiceTest, EntriesPageNewestFirst) {
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(DoTopUp(i * 100));
  std::vector<int64_t> seen;
  std::optional<std::string> cursor;
  int pages = 0;
  do {
    auto v =
        db().ReadValue([&](store::Tx& tx) { return GetWallet(tx, Owner(), member_, cursor, 2); });
    ASSERT_TRUE(v.has_value()) << v.error().ToString();
    EXPECT_EQ(v->balance, (WalletBalance{1500, 0}));
    for (const auto& e : v->entries) seen.push_back(e.paid_minor);
    cursor = v->next_cursor;
    ++pages;
  } while (cursor && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<int64_t>{500, 400, 300, 200, 100}));
  auto bad =
      db().ReadValue([&](store::Tx& tx) { return GetWallet(tx, Owner(), member_, "nope", 2); });
  EXPECT_EQ(bad.error().message, "cursor: is not a cursor this list gave out");
}

// 16 threads charge one wallet at once. Each charge takes the wallet's row lock before it reads
// the balance, so exactly as many succeed as the balance covers, the rest are refused with
// failed_precondition, and the ledger adds up. Without the lock (read, then write) two charges
// could both see the same balance and overdraw it — on PostgreSQL at READ COMMITTED that is
// what would happen.
TEST_P(WalletServiceTest, SixteenConcurrentChargesNeverOverdraw) {
  ASSERT_TRUE(NewScheme(100000, 10000));
  ASSERT_TRUE(DoTopUp(100000));  // 1,100 in all
  constexpr int64_t kInitial = 110000, kAmount = 15000;
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&] {
      auto r = DoCharge(kAmount);
      if (r)
        ++ok;
      else if (r.error().code == Code::kFailedPrecondition)
        ++refused;
      else {
        ++other;
        ADD_FAILURE() << r.error().ToString();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok + refused, 16);
  EXPECT_LE(ok * kAmount, kInitial);
  EXPECT_EQ(ok, kInitial / kAmount);  // 7: every charge the balance covers succeeded
  WalletBalance b = Balance();
  EXPECT_EQ(b.total_minor(), kInitial - ok * kAmount);
  EXPECT_GE(b.paid_minor, 0);
  EXPECT_GE(b.bonus_minor, 0);
  EXPECT_EQ(Count("wallet_entries"), 1 + ok);
  std::vector<std::string> problems = Problems();
  EXPECT_TRUE(problems.empty()) << problems.front();
}

// 8 threads refund 30% of one charge each: only 3 fit, whatever the interleaving.
TEST_P(WalletServiceTest, ConcurrentRefundsNeverExceedTheCharge) {
  ASSERT_TRUE(DoTopUp(100000));
  auto c = DoCharge(100000);
  ASSERT_TRUE(c);
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      auto r = DoRefund(c->entry.id, 30000);
      if (r)
        ++ok;
      else if (r.error().code == Code::kFailedPrecondition)
        ++refused;
      else
        ADD_FAILURE() << r.error().ToString();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(refused, 5);
  EXPECT_EQ(Balance(), (WalletBalance{90000, 0}));
  std::vector<std::string> problems = Problems();
  EXPECT_TRUE(problems.empty()) << problems.front();
}

TEST_P(WalletServiceTest, CheckFindsABalanceThatDriftedFromItsEntries) {
  ASSERT_TRUE(DoTopUp(1000));
  ASSERT_TRUE(DoCharge(300));
  EXPECT_TRUE(Problems().empty());
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(tx.Exec("UPDATE wallet_balances SET bonus_minor = bonus_minor + 7"));
    return {};
  }));
  std::vector<std::string> problems = Problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0],
            "merchant " + std::to_string(merchant_) + " member " + std::to_string(member_) +
                ": wallet balance is paid 700 bonus 7 but its entries sum to paid 700 bonus 0");
  ASSERT_TRUE(db().Write([&](store::Tx& tx) -> Status {
    RG_TRY(tx.Exec("UPDATE wallet_balances SET bonus_minor = 0"));
    RG_TRY(tx.Exec("UPDATE wallet_entries SET paid_after = paid_after + 1 WHERE seq = 1"));
    return {};
  }));
  problems = Problems();
  ASSERT_EQ(problems.size(), 2u);  // seq 1 no longer follows 0, seq 2 no longer follows seq 1
  EXPECT_NE(problems[0].find("(seq 1, top_up): previous balance paid 0 bonus 0 plus change paid "
                             "1000 bonus 0 is not the balance after, paid 1001 bonus 0"),
            std::string::npos)
      << problems[0];
}

TEST_P(WalletServiceTest, SchemesAreForManagers) {
  auto cashier = W([&](store::Tx& tx) {
    return CreateBonusScheme(tx, Cashier(), {.name = "x", .pay_minor = 100, .bonus_minor = 10});
  });
  EXPECT_EQ(cashier.error().code, Code::kPermissionDenied);
  EXPECT_EQ(cashier.error().message, "only an owner or manager may manage bonus schemes");
  auto s = NewScheme(100000, 10000, true);
  ASSERT_TRUE(s);
  auto patched = W(
      [&](store::Tx& tx) { return UpdateBonusScheme(tx, Owner(), s->id, {.bonus_minor = 12000}); });
  ASSERT_TRUE(patched);
  EXPECT_EQ(patched->bonus_minor, 12000);
  EXPECT_TRUE(patched->repeats);
  EXPECT_EQ(DoTopUp(250000)->entry.bonus_minor, 24000);
  auto list = db().ReadValue(
      [&](store::Tx& tx) { return ListBonusSchemes(tx, Cashier(), std::nullopt, 50); });
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].name, "Pay 1000 get 100");
}

RG_INSTANTIATE_BACKENDS(WalletServiceTest);

}  // namespace
}  // namespace regulars::loyalty
