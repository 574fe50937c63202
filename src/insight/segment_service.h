#pragma once

// Saved segments (named definitions of the segment language) and their live membership.
//
// The use cases (create, get, list, change, delete) each run inside the caller's transaction and
// append a `segment_created` / `segment_updated` / `segment_deleted` event. Counts, previews and
// member pages are evaluated on the in-memory feature store (feature_store.h) at request time.
//
// `SegmentMembership` keeps the `segment_members` table equal to each saved segment's current
// members: after the feature store has applied new events (its last_seq moved) and once a
// minute for segments with time-relative conditions (DependsOnTime), it re-evaluates the
// merchant's segments, and writes the rows that changed together with one `segment_entered` or
// `segment_exited` member event each (the first fill of a new segment too: every member it
// starts with enters it), in transactions of at most kChangesPerTransaction rows, so a fill of
// 100k members never holds the writer for long; each row commits with its event. Nothing
// changed means nothing written; the table is the memory of what was announced, so a restart
// (or a crash between chunks) re-emits nothing.

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "accounts/account.h"
#include "base/error.h"
#include "base/page.h"
#include "insight/segment.h"
#include "members/member.h"
#include "store/db.h"

namespace regulars::insight {

class FeatureStore;
struct MerchantFeatures;

struct SavedSegment {
  Id id = 0;
  std::string name;
  nlohmann::json definition;
  Micros created_at = 0;
  Micros updated_at = 0;
};

// A create takes both; a change takes either.
struct SegmentInput {
  std::optional<std::string> name;
  std::optional<nlohmann::json> definition;
};

// The merchant's saved (not deleted) segments, parsed, by id: what references resolve to.
using SegmentDefinitions = std::map<Id, std::shared_ptr<const SegmentNode>>;
Result<SegmentDefinitions> LoadSegmentDefinitions(store::Tx& tx, Id merchant_id);
SegmentResolver ResolverOf(const SegmentDefinitions& defs);

// Errors: invalid_argument naming "name" or the definition's node path (unknown segment,
// reference cycle); permission_denied for cashiers; not_found for another merchant's segment.
Result<SavedSegment> CreateSegment(store::Tx& tx, const accounts::Actor& actor,
                                   const SegmentInput& in);
Result<SavedSegment> GetSegment(store::Tx& tx, const accounts::Actor& actor, Id id);
Result<Page<SavedSegment>> ListSegments(store::Tx& tx, const accounts::Actor& actor,
                                        const std::optional<std::string>& cursor, int limit);
Result<SavedSegment> UpdateSegment(store::Tx& tx, const accounts::Actor& actor, Id id,
                                   const SegmentInput& in);
// failed_precondition while another segment refers to it.
Status DeleteSegment(store::Tx& tx, const accounts::Actor& actor, Id id);

// Parses a saved segment's stored definition.
Result<SegmentNode> ParseSaved(const SavedSegment& s);

// One member as segment lists and previews show them.
struct SegmentMemberSummary {
  Id id = 0;
  std::optional<std::string> name, phone;
  Id tier_id = 0;  // 0 = none
  std::string tier_name;
  int64_t spend_minor = 0;
  int32_t orders = 0;
  Micros last_order_at = 0;  // 0 = never bought
  uint8_t rfm_group = 0;     // RfmGroup
};

// The members matching `node` now, ascending by id (empty for a merchant the store has not
// loaded yet). `features` may be null: unavailable.
Result<std::vector<Id>> SegmentMemberIds(FeatureStore* features, Id merchant_id,
                                         const SegmentNode& node, const SegmentDefinitions& defs,
                                         Micros now);
// How many members match `node` now (the size of SegmentMemberIds, without building it).
Result<int64_t> SegmentMemberCount(FeatureStore* features, Id merchant_id, const SegmentNode& node,
                                   const SegmentDefinitions& defs, Micros now);
// Summaries of `ids` (in that order), from the feature store and the members table.
Result<std::vector<SegmentMemberSummary>> SummariseMembers(store::Tx& tx, FeatureStore* features,
                                                           Id merchant_id,
                                                           const std::vector<Id>& ids);
// One page of `ids` (ascending) after the cursor (a member id this list gave out).
Result<Page<Id>> PageOfIds(const std::vector<Id>& ids, const std::optional<std::string>& cursor,
                           int limit);

// One page of a saved segment's current members (evaluated on the feature store now), newest
// first and with the cursor convention of GET /api/v1/members (a member id this list gave out;
// the next page holds older members), with the members' full records. Errors: not_found naming
// "segment_id" when the merchant has no such segment (deleted, another merchant's);
// invalid_argument naming "cursor"; unavailable without a feature store.
Result<Page<members::Member>> SegmentMembersPage(store::Tx& tx, FeatureStore* features,
                                                 const accounts::Actor& actor, Id segment_id,
                                                 const std::optional<std::string>& cursor,
                                                 int limit);

// What the segment builder may offer: the known values of the dictionary features.
struct SegmentCatalogue {
  struct Named {
    std::string value, label;
  };
  std::vector<std::string> categories, skus, regions, cities, genders, languages, tags;
  std::vector<Named> branches, tiers;
};
// skus: the 200 bought by most members. Values come from the feature store when it has the
// merchant, branches and tiers from their tables.
Result<SegmentCatalogue> Catalogue(store::Tx& tx, FeatureStore* features,
                                   const accounts::Actor& actor);

// One segment's membership change: rows to insert into and delete from segment_members.
struct MembershipChange {
  Id segment_id = 0;
  std::string name;
  std::vector<Id> entered, exited;
};
// Writes `change` in the caller's transaction after taking the segment's row lock: inserts the
// entered rows and deletes the exited ones that are really new or really there, and appends
// one `segment_entered` / `segment_exited` member event for each row written (seqs reserved in
// one step). A segment deleted meanwhile writes nothing. Returns the events written.
Result<int64_t> WriteMembershipChange(store::Tx& tx, Id merchant_id, Micros now,
                                      const MembershipChange& change);

class SegmentMembership {
 public:
  SegmentMembership(store::Database& db, FeatureStore& features, const Clock& clock);
  ~SegmentMembership();
  SegmentMembership(const SegmentMembership&) = delete;
  SegmentMembership& operator=(const SegmentMembership&) = delete;

  // One round over every merchant the store holds; returns the member events written.
  // `force` re-evaluates every merchant even when nothing moved.
  Result<int64_t> Refresh(bool force = false);
  // Re-evaluates one merchant's saved segments now and writes the differences.
  Result<int64_t> RefreshMerchant(Id merchant_id);

  // A background thread calling Refresh every poll_ms; Stop() ends it (also on destruction).
  void Start(int poll_ms = 250);
  void Stop();

  static constexpr Micros kTimeRefresh = 60 * kMicrosPerSecond;
  // Membership rows (each with its event) written per transaction. A round with more changes,
  // such as the first fill of a big segment, commits in several transactions, so other writers
  // wait at most one chunk (5,000 rows: about 0.1-0.2 s on SQLite; docs/benchmarks.md, insight
  // "Segment first fill").
  static constexpr size_t kChangesPerTransaction = 5'000;
  // For tests: a smaller chunk (at least 1).
  void SetChangesPerTransaction(size_t n) { changes_per_transaction_ = n ? n : 1; }

 private:
  struct State {
    int64_t seen_seq = -1;
    Micros evaluated_at = 0;
    bool time_dependent = false;
  };

  store::Database& db_;
  FeatureStore& features_;
  const Clock& clock_;
  size_t changes_per_transaction_ = kChangesPerTransaction;
  std::mutex refresh_mu_;  // one refresh at a time
  std::unordered_map<Id, State> state_;

  std::thread thread_;
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool stop_ = false;
};

}  // namespace regulars::insight
