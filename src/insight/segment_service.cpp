#include "insight/segment_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "events/event_repo.h"
#include "insight/feature_store.h"
#include "members/member_repo.h"

namespace regulars::insight {
namespace {

using nlohmann::json;

constexpr size_t kMaxName = 200;

Status MayManage(const accounts::Actor& a) {
  if (!a.IsManagerOrOwner())
    return Fail(Code::kPermissionDenied, "only an owner or manager may change segments");
  return {};
}

Result<SavedSegment> FromRow(const store::Row& r) {
  SavedSegment s;
  s.id = r.Int(0);
  s.name = r.Str(1);
  s.definition = json::parse(r.Str(2), nullptr, false);
  if (s.definition.is_discarded())
    return Fail(Code::kInternal, "segment " + IdToString(s.id) + " has a malformed definition");
  s.created_at = r.Int(3);
  s.updated_at = r.Int(4);
  return s;
}

constexpr std::string_view kColumns = "id, name, definition, created_at, updated_at";

Result<std::optional<SavedSegment>> FindSegment(store::Tx& tx, Id merchant_id, Id id) {
  RG_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.Query(fmt::format("SELECT {} FROM segments WHERE merchant_id = ? AND id = ? AND "
                           "deleted_at IS NULL",
                           kColumns),
               {merchant_id, id}));
  if (rows.empty()) return std::optional<SavedSegment>{};
  RG_ASSIGN_OR_RETURN(SavedSegment s, FromRow(rows[0]));
  return std::optional<SavedSegment>(std::move(s));
}

Result<std::string> CleanName(const std::optional<std::string>& name) {
  if (!name) return InvalidField("name", "is required");
  std::string n = *name;
  while (!n.empty() && (n.back() == ' ' || n.back() == '\t')) n.pop_back();
  while (!n.empty() && (n.front() == ' ' || n.front() == '\t')) n.erase(n.begin());
  if (n.empty()) return InvalidField("name", "must not be empty");
  if (n.size() > kMaxName) return InvalidField("name", "must be at most 200 bytes");
  return n;
}

// Parses `definition` and checks its references against the merchant's saved segments, with
// `self` (0 for a new segment) standing for the new definition, so a cycle through it is found.
Result<SegmentNode> Validate(store::Tx& tx, Id merchant_id, Id self, const json& definition) {
  RG_ASSIGN_OR_RETURN(SegmentNode node, ParseSegmentDefinition(definition));
  if (SegmentRefs(node).empty()) return node;
  RG_ASSIGN_OR_RETURN(SegmentDefinitions defs, LoadSegmentDefinitions(tx, merchant_id));
  auto held = std::make_shared<const SegmentNode>(node);
  if (self) defs[self] = held;
  // Evaluating on no members checks exactly the references: unknown ids and cycles, with the
  // error at the reference's path in this definition.
  MerchantFeatures none;
  none.timezone = "UTC";
  // A cycle through `self` shows as a repeated reference met from this definition.
  RG_TRY(EvaluateSegment(node, none, 0, ResolverOf(defs)));
  return node;
}

Status AppendSegmentEvent(store::Tx& tx, const accounts::Actor& actor, std::string type,
                          const SavedSegment& s) {
  events::NewEvent e;
  e.type = std::move(type);
  e.actor = actor.Label();
  e.data = json{{"segment_id", IdToString(s.id)}, {"name", s.name}}.dump();
  RG_TRY(events::AppendEvent(tx, actor.merchant_id, actor.now, std::move(e)));
  return {};
}

// "(?, ?, ...), (...)" for `rows` rows of `cols` values.
std::string ValueRows(size_t rows, size_t cols) {
  std::string row = "(";
  for (size_t c = 0; c < cols; ++c) row += c ? ", ?" : "?";
  row += ")";
  std::string out;
  for (size_t r = 0; r < rows; ++r) out += (r ? ", " : "") + row;
  return out;
}

// Rows per statement. PostgreSQL: multi-row statements (one round trip per 100 rows, three
// shapes for the driver's statement cache). SQLite: one row each (a cached statement costs it no
// more per row, and a multi-row statement into a table with a unique index needs a statement
// journal inside the command's savepoint; see importer/order_import.cpp's Inserter).
size_t RowsPerStatement(const store::Tx& tx, size_t left) {
  if (tx.dialect() == store::Dialect::kSqlite) return 1;
  return left >= 100 ? 100 : left >= 10 ? 10 : 1;
}

}  // namespace

Result<int64_t> WriteMembershipChange(store::Tx& tx, Id merchant_id, Micros now,
                                      const MembershipChange& change) {
  // Takes the segment's row lock (several servers may share a PostgreSQL) and skips a segment
  // deleted since it was read.
  RG_ASSIGN_OR_RETURN(int64_t live, tx.Exec("UPDATE segments SET updated_at = updated_at WHERE "
                                            "merchant_id = ? AND id = ? AND deleted_at IS NULL",
                                            {merchant_id, change.segment_id}));
  if (live == 0) return 0;
  // Only rows this transaction really inserts or deletes are announced: a row another server
  // wrote meanwhile conflicts (or is gone) and yields no event.
  std::vector<Id> entered, exited;
  for (size_t done = 0; done < change.entered.size();) {
    size_t n = RowsPerStatement(tx, change.entered.size() - done);
    std::vector<store::Value> params;
    params.reserve(n * 4);
    for (size_t k = 0; k < n; ++k) {
      params.emplace_back(merchant_id);
      params.emplace_back(change.segment_id);
      params.emplace_back(change.entered[done + k]);
      params.emplace_back(now);
    }
    RG_ASSIGN_OR_RETURN(
        store::Rows rows,
        tx.Query("INSERT INTO segment_members (merchant_id, segment_id, member_id, entered_at) "
                 "VALUES " +
                     ValueRows(n, 4) +
                     " ON CONFLICT (merchant_id, segment_id, member_id) DO NOTHING RETURNING "
                     "member_id",
                 params));
    for (const auto& r : rows) entered.push_back(r.Int(0));
    done += n;
  }
  for (size_t done = 0; done < change.exited.size();) {
    size_t n = RowsPerStatement(tx, change.exited.size() - done);
    std::vector<store::Value> params{merchant_id, change.segment_id};
    std::string in;
    for (size_t k = 0; k < n; ++k) {
      in += k ? ", ?" : "?";
      params.emplace_back(change.exited[done + k]);
    }
    RG_ASSIGN_OR_RETURN(store::Rows rows,
                        tx.Query("DELETE FROM segment_members WHERE merchant_id = ? AND "
                                 "segment_id = ? AND member_id IN (" +
                                     in + ") RETURNING member_id",
                                 params));
    for (const auto& r : rows) exited.push_back(r.Int(0));
    done += n;
  }
  // One member event each, numbered in one step (events::ReserveEventSeqs), as AppendEvent
  // would number them one by one.
  int64_t total = static_cast<int64_t>(entered.size() + exited.size());
  if (total == 0) return 0;
  RG_ASSIGN_OR_RETURN(int64_t seq, events::ReserveEventSeqs(tx, merchant_id, total));
  std::string data =
      json{{"segment_id", IdToString(change.segment_id)}, {"name", change.name}}.dump();
  std::vector<std::pair<Id, const char*>> announce;
  announce.reserve(static_cast<size_t>(total));
  for (Id m : entered) announce.emplace_back(m, "segment_entered");
  for (Id m : exited) announce.emplace_back(m, "segment_exited");
  for (size_t done = 0; done < announce.size();) {
    size_t n = RowsPerStatement(tx, announce.size() - done);
    std::vector<store::Value> params;
    params.reserve(n * 8);
    for (size_t k = 0; k < n; ++k) {
      const auto& [member, type] = announce[done + k];
      params.emplace_back(merchant_id);
      params.emplace_back(seq++);
      params.emplace_back(NewId());
      params.emplace_back(std::string(type));
      params.emplace_back(member);
      params.emplace_back(now);
      params.emplace_back(std::string("system"));
      params.emplace_back(data);
    }
    RG_TRY(
        tx.Exec("INSERT INTO events (merchant_id, seq, id, type, member_id, occurred_at, "
                "actor, data) VALUES " +
                    ValueRows(n, 8),
                params));
    done += n;
  }
  return total;
}

Result<SegmentDefinitions> LoadSegmentDefinitions(store::Tx& tx, Id merchant_id) {
  RG_ASSIGN_OR_RETURN(store::Rows rows,
                      tx.Query("SELECT id, definition FROM segments WHERE merchant_id = ? AND "
                               "deleted_at IS NULL",
                               {merchant_id}));
  SegmentDefinitions out;
  for (const auto& r : rows) {
    json d = json::parse(r.Str(1), nullptr, false);
    if (d.is_discarded()) continue;
    auto node = ParseSegmentDefinition(d);
    if (!node) continue;  // stored definitions were valid when saved
    out[r.Int(0)] = std::make_shared<const SegmentNode>(std::move(*node));
  }
  return out;
}

SegmentResolver ResolverOf(const SegmentDefinitions& defs) {
  return [&defs](Id id) -> Result<std::shared_ptr<const SegmentNode>> {
    auto it = defs.find(id);
    if (it == defs.end()) return Fail(Code::kNotFound, "no segment " + IdToString(id));
    return it->second;
  };
}

Result<SegmentNode> ParseSaved(const SavedSegment& s) {
  return ParseSegmentDefinition(s.definition);
}

Result<SavedSegment> CreateSegment(store::Tx& tx, const accounts::Actor& actor,
                                   const SegmentInput& in) {
  RG_TRY(MayManage(actor));
  RG_ASSIGN_OR_RETURN(std::string name, CleanName(in.name));
  if (!in.definition) return InvalidField("definition", "is required");
  RG_TRY(Validate(tx, actor.merchant_id, 0, *in.definition));
  SavedSegment s;
  s.id = NewId();
  s.name = std::move(name);
  s.definition = *in.definition;
  s.created_at = s.updated_at = actor.now;
  RG_TRY(
      tx.Exec("INSERT INTO segments (merchant_id, id, name, definition, created_at, "
              "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
              {actor.merchant_id, s.id, s.name, s.definition.dump(), s.created_at, s.updated_at}));
  RG_TRY(AppendSegmentEvent(tx, actor, "segment_created", s));
  return s;
}

Result<SavedSegment> GetSegment(store::Tx& tx, const accounts::Actor& actor, Id id) {
  RG_ASSIGN_OR_RETURN(auto s, FindSegment(tx, actor.merchant_id, id));
  if (!s) return Fail(Code::kNotFound, "no such segment");
  return std::move(*s);
}

Result<Page<SavedSegment>> ListSegments(store::Tx& tx, const accounts::Actor& actor,
                                        const std::optional<std::string>& cursor, int limit) {
  Id after = 0;
  if (cursor && !cursor->empty()) {
    auto id = ParseId(*cursor);
    if (!id) return InvalidField("cursor", "is not a cursor this list gave out");
    after = *id;
  }
  RG_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.Query(fmt::format("SELECT {} FROM segments WHERE merchant_id = ? AND deleted_at IS NULL "
                           "AND id > ? ORDER BY id LIMIT ?",
                           kColumns),
               {actor.merchant_id, after, int64_t{limit} + 1}));
  Page<SavedSegment> page;
  for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(limit); ++i) {
    RG_ASSIGN_OR_RETURN(SavedSegment s, FromRow(rows[i]));
    page.items.push_back(std::move(s));
  }
  if (rows.size() > static_cast<size_t>(limit)) page.next_cursor = IdToString(page.items.back().id);
  return page;
}

Result<SavedSegment> UpdateSegment(store::Tx& tx, const accounts::Actor& actor, Id id,
                                   const SegmentInput& in) {
  RG_TRY(MayManage(actor));
  RG_ASSIGN_OR_RETURN(SavedSegment s, GetSegment(tx, actor, id));
  if (in.name) {
    RG_ASSIGN_OR_RETURN(s.name, CleanName(in.name));
  }
  if (in.definition) {
    RG_TRY(Validate(tx, actor.merchant_id, id, *in.definition));
    s.definition = *in.definition;
  }
  s.updated_at = actor.now;
  RG_TRY(
      tx.Exec("UPDATE segments SET name = ?, definition = ?, updated_at = ? WHERE "
              "merchant_id = ? AND id = ?",
              {s.name, s.definition.dump(), s.updated_at, actor.merchant_id, id}));
  RG_TRY(AppendSegmentEvent(tx, actor, "segment_updated", s));
  return s;
}

Status DeleteSegment(store::Tx& tx, const accounts::Actor& actor, Id id) {
  RG_TRY(MayManage(actor));
  RG_ASSIGN_OR_RETURN(SavedSegment s, GetSegment(tx, actor, id));
  RG_ASSIGN_OR_RETURN(store::Rows rows,
                      tx.Query("SELECT id, name, definition FROM segments WHERE merchant_id = ? "
                               "AND deleted_at IS NULL AND id <> ? ORDER BY id",
                               {actor.merchant_id, id}));
  for (const auto& r : rows) {
    auto node = ParseSegmentDefinition(json::parse(r.Str(2), nullptr, false));
    if (!node) continue;
    auto refs = SegmentRefs(*node);
    if (std::find(refs.begin(), refs.end(), id) != refs.end())
      return Fail(MakeError(Code::kFailedPrecondition,
                            fmt::format("segment is used by segment \"{}\" ({}); change that one "
                                        "first",
                                        r.Str(1), IdToString(r.Int(0))))
                      .WithDetail("segment_id", IdToString(r.Int(0))));
  }
  RG_TRY(
      tx.Exec("UPDATE segments SET deleted_at = ?, updated_at = ? WHERE merchant_id = ? AND "
              "id = ?",
              {actor.now, actor.now, actor.merchant_id, id}));
  RG_TRY(tx.Exec("DELETE FROM segment_members WHERE merchant_id = ? AND segment_id = ?",
                 {actor.merchant_id, id}));
  RG_TRY(AppendSegmentEvent(tx, actor, "segment_deleted", s));
  return {};
}

Result<std::vector<Id>> SegmentMemberIds(FeatureStore* features, Id merchant_id,
                                         const SegmentNode& node, const SegmentDefinitions& defs,
                                         Micros now) {
  if (!features) return Fail(Code::kUnavailable, "the feature store is not running");
  SegmentResolver resolve = ResolverOf(defs);
  auto ids = features->Read(merchant_id, [&](const MerchantFeatures& f) -> Result<std::vector<Id>> {
    RG_ASSIGN_OR_RETURN(roaring::Roaring set, EvaluateSegment(node, f, now, resolve));
    std::vector<Id> out;
    out.reserve(set.cardinality());
    for (uint32_t i : set) out.push_back(f.member_ids[i]);
    return out;
  });
  if (!ids && ids.error().code == Code::kNotFound && ids.error().field.empty()) {
    // Not loaded yet (a merchant created a moment ago): no members bought anything yet, but
    // the definition must still be checked.
    MerchantFeatures none;
    none.timezone = "UTC";
    RG_TRY(EvaluateSegment(node, none, now, resolve));
    return std::vector<Id>{};
  }
  if (!ids) return std::unexpected(ids.error());
  std::sort(ids->begin(), ids->end());
  return std::move(*ids);
}

Result<int64_t> SegmentMemberCount(FeatureStore* features, Id merchant_id, const SegmentNode& node,
                                   const SegmentDefinitions& defs, Micros now) {
  if (!features) return Fail(Code::kUnavailable, "the feature store is not running");
  SegmentResolver resolve = ResolverOf(defs);
  auto n = features->Read(merchant_id, [&](const MerchantFeatures& f) -> Result<int64_t> {
    RG_ASSIGN_OR_RETURN(roaring::Roaring set, EvaluateSegment(node, f, now, resolve));
    return static_cast<int64_t>(set.cardinality());
  });
  if (!n && n.error().code == Code::kNotFound && n.error().field.empty()) {
    RG_ASSIGN_OR_RETURN(auto none, SegmentMemberIds(features, merchant_id, node, defs, now));
    return static_cast<int64_t>(none.size());
  }
  return n;
}

Result<Page<Id>> PageOfIds(const std::vector<Id>& ids, const std::optional<std::string>& cursor,
                           int limit) {
  auto it = ids.begin();
  if (cursor && !cursor->empty()) {
    auto after = ParseId(*cursor);
    if (!after) return InvalidField("cursor", "is not a cursor this list gave out");
    it = std::upper_bound(ids.begin(), ids.end(), *after);
  }
  Page<Id> page;
  for (; it != ids.end() && page.items.size() < static_cast<size_t>(limit); ++it)
    page.items.push_back(*it);
  if (it != ids.end()) page.next_cursor = IdToString(page.items.back());
  return page;
}

Result<Page<members::Member>> SegmentMembersPage(store::Tx& tx, FeatureStore* features,
                                                 const accounts::Actor& actor, Id segment_id,
                                                 const std::optional<std::string>& cursor,
                                                 int limit) {
  std::optional<Id> before;
  if (cursor && !cursor->empty()) {
    before = ParseId(*cursor);
    if (!before) return InvalidField("cursor", "is not a cursor this list gave out");
  }
  RG_ASSIGN_OR_RETURN(auto saved, FindSegment(tx, actor.merchant_id, segment_id));
  if (!saved) return Fail(Code::kNotFound, "segment_id: no such segment", "segment_id");
  RG_ASSIGN_OR_RETURN(SegmentNode node, ParseSaved(*saved));
  RG_ASSIGN_OR_RETURN(SegmentDefinitions defs, LoadSegmentDefinitions(tx, actor.merchant_id));
  RG_ASSIGN_OR_RETURN(std::vector<Id> ids,
                      SegmentMemberIds(features, actor.merchant_id, node, defs, actor.now));
  // Ascending ids; the page is the `limit` largest below the cursor.
  auto end = before ? std::lower_bound(ids.begin(), ids.end(), *before) : ids.end();
  std::vector<Id> page_ids;
  for (auto it = end; it != ids.begin() && page_ids.size() < static_cast<size_t>(limit);)
    page_ids.push_back(*--it);
  bool more = static_cast<size_t>(end - ids.begin()) > page_ids.size();
  RG_ASSIGN_OR_RETURN(std::vector<members::Member> found,
                      members::LoadMembers(tx, actor.merchant_id, page_ids));
  std::sort(found.begin(), found.end(),
            [](const members::Member& a, const members::Member& b) { return a.id > b.id; });
  Page<members::Member> page;
  page.items = std::move(found);
  if (more && !page.items.empty()) page.next_cursor = IdToString(page_ids.back());
  return page;
}

Result<std::vector<SegmentMemberSummary>> SummariseMembers(store::Tx& tx, FeatureStore* features,
                                                           Id merchant_id,
                                                           const std::vector<Id>& ids) {
  std::vector<SegmentMemberSummary> out(ids.size());
  if (ids.empty()) return out;
  std::unordered_map<Id, size_t> pos;
  std::string in;
  std::vector<store::Value> params{merchant_id};
  for (size_t k = 0; k < ids.size(); ++k) {
    out[k].id = ids[k];
    pos[ids[k]] = k;
    in += k ? ", ?" : "?";
    params.emplace_back(ids[k]);
  }
  RG_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.Query("SELECT id, name, phone FROM members WHERE merchant_id = ? AND id IN (" + in + ")",
               params));
  for (const auto& r : rows) {
    auto& s = out[pos[r.Int(0)]];
    s.name = r.OptStr(1);
    s.phone = r.OptStr(2);
  }
  if (features) {
    (void)features->Read(merchant_id, [&](const MerchantFeatures& f) {
      for (auto& s : out) {
        auto it = f.index_of.find(s.id);
        if (it == f.index_of.end()) continue;
        uint32_t i = it->second;
        s.tier_id = f.tier_id[i];
        s.spend_minor = f.spend_minor[i];
        s.orders = f.orders[i];
        s.last_order_at = f.last_order_at[i];
        if (i < f.rfm_group.size()) s.rfm_group = f.rfm_group[i];
      }
    });
  }
  RG_ASSIGN_OR_RETURN(store::Rows tiers,
                      tx.Query("SELECT id, name FROM tiers WHERE merchant_id = ?", {merchant_id}));
  for (auto& s : out)
    for (const auto& t : tiers)
      if (t.Int(0) == s.tier_id) s.tier_name = t.Str(1);
  return out;
}

Result<SegmentCatalogue> Catalogue(store::Tx& tx, FeatureStore* features,
                                   const accounts::Actor& actor) {
  SegmentCatalogue c;
  RG_ASSIGN_OR_RETURN(
      store::Rows branches,
      tx.Query("SELECT id, name FROM branches WHERE merchant_id = ? ORDER BY name, id",
               {actor.merchant_id}));
  for (const auto& r : branches) c.branches.push_back({IdToString(r.Int(0)), r.Str(1)});
  RG_ASSIGN_OR_RETURN(store::Rows tiers,
                      tx.Query("SELECT id, name FROM tiers WHERE merchant_id = ? ORDER BY level",
                               {actor.merchant_id}));
  for (const auto& r : tiers) c.tiers.push_back({IdToString(r.Int(0)), r.Str(1)});
  if (!features) return c;
  auto names = [](const Dictionary& d) {
    std::vector<std::string> out;
    for (uint32_t k = 1; k < d.size(); ++k) out.push_back(d.Name(k));
    std::sort(out.begin(), out.end());
    return out;
  };
  (void)features->Read(actor.merchant_id, [&](const MerchantFeatures& f) {
    c.categories = names(f.categories);
    c.regions = names(f.regions);
    c.cities = names(f.cities);
    c.genders = names(f.genders);
    c.languages = names(f.languages);
    c.tags = names(f.tags);
    // The 200 skus bought by the most members.
    std::vector<std::pair<uint64_t, uint32_t>> by_members;
    for (uint32_t k = 1; k < f.skus.size(); ++k)
      by_members.push_back({k < f.sku_members.size() ? f.sku_members[k].cardinality() : 0, k});
    std::sort(by_members.begin(), by_members.end(), [&](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : f.skus.Name(a.second) < f.skus.Name(b.second);
    });
    for (size_t k = 0; k < by_members.size() && k < 200; ++k)
      c.skus.push_back(f.skus.Name(by_members[k].second));
  });
  return c;
}

// ---------------------------------------------------------------------------------------------
// Live membership.

SegmentMembership::SegmentMembership(store::Database& db, FeatureStore& features,
                                     const Clock& clock)
    : db_(db), features_(features), clock_(clock) {}

SegmentMembership::~SegmentMembership() { Stop(); }

Result<int64_t> SegmentMembership::Refresh(bool force) {
  int64_t written = 0;
  Micros now = clock_.Now();
  for (Id merchant_id : features_.MerchantIds()) {
    auto seq = features_.Read(merchant_id, [](const MerchantFeatures& f) { return f.last_seq; });
    if (!seq) continue;
    {
      std::lock_guard lock(refresh_mu_);
      State& s = state_[merchant_id];
      bool moved = *seq != s.seen_seq;
      bool stale = s.time_dependent && now - s.evaluated_at >= kTimeRefresh;
      if (!force && !moved && !stale) continue;
    }
    auto r = RefreshMerchant(merchant_id);
    if (!r) {
      spdlog::warn("insight: segment membership of merchant {}: {}", merchant_id,
                   r.error().ToString());
      continue;
    }
    written += *r;
  }
  return written;
}

Result<int64_t> SegmentMembership::RefreshMerchant(Id merchant_id) {
  std::lock_guard lock(refresh_mu_);
  Micros now = clock_.Now();
  struct Saved {
    Id id;
    std::string name;
    std::shared_ptr<const SegmentNode> node;
  };
  std::vector<Saved> saved;
  SegmentDefinitions defs;
  std::unordered_map<Id, std::vector<Id>> current;  // segment -> members as last written
  RG_TRY(db_.Read([&](store::Tx& tx) -> Status {
    saved.clear();
    RG_ASSIGN_OR_RETURN(defs, LoadSegmentDefinitions(tx, merchant_id));
    RG_ASSIGN_OR_RETURN(store::Rows rows,
                        tx.Query("SELECT id, name FROM segments WHERE merchant_id = ? AND "
                                 "deleted_at IS NULL ORDER BY id",
                                 {merchant_id}));
    for (const auto& r : rows) {
      auto it = defs.find(r.Int(0));
      if (it != defs.end()) saved.push_back({r.Int(0), r.Str(1), it->second});
    }
    current.clear();
    RG_ASSIGN_OR_RETURN(store::Rows members,
                        tx.Query("SELECT segment_id, member_id FROM segment_members WHERE "
                                 "merchant_id = ?",
                                 {merchant_id}));
    for (const auto& r : members) current[r.Int(0)].push_back(r.Int(1));
    for (auto& [_, ids] : current) std::sort(ids.begin(), ids.end());
    return {};
  }));

  // Evaluate every segment on one snapshot of the features.
  std::vector<std::vector<Id>> members(saved.size());
  std::vector<bool> ok(saved.size(), false);
  SegmentResolver resolve = ResolverOf(defs);
  bool time_dependent = false;
  RG_ASSIGN_OR_RETURN(int64_t seq,
                      features_.Read(merchant_id, [&](const MerchantFeatures& f) -> int64_t {
                        for (size_t k = 0; k < saved.size(); ++k) {
                          auto set = EvaluateSegment(*saved[k].node, f, now, resolve);
                          if (!set) continue;
                          ok[k] = true;
                          members[k].reserve(set->cardinality());
                          for (uint32_t i : *set) members[k].push_back(f.member_ids[i]);
                          std::sort(members[k].begin(), members[k].end());
                        }
                        return f.last_seq;
                      }));
  for (const auto& s : saved) {
    // A reference to a time-relative segment makes this one time-relative too.
    if (DependsOnTime(*s.node)) time_dependent = true;
  }

  // What changed since the table was read: per segment, who entered and who left.
  std::vector<MembershipChange> changes;
  for (size_t k = 0; k < saved.size(); ++k) {
    if (!ok[k]) continue;
    static const std::vector<Id> kNone;
    auto it = current.find(saved[k].id);
    const std::vector<Id>& before = it == current.end() ? kNone : it->second;
    const std::vector<Id>& after = members[k];
    if (after == before) continue;  // most rounds change nothing: the writer is not taken
    MembershipChange c{saved[k].id, saved[k].name, {}, {}};
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                        std::back_inserter(c.entered));
    std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                        std::back_inserter(c.exited));
    changes.push_back(std::move(c));
  }
  // Written in chunks of at most changes_per_transaction_ rows (with their events), one
  // transaction each, so the first fill of a segment of 100k members never holds the writer
  // (SQLite's single writer; the segment's row lock on PostgreSQL) for long. A crash between
  // chunks leaves a table that is still exactly what was announced; the next round writes the
  // rest.
  int64_t written = 0;
  size_t ci = 0, ei = 0, xi = 0;  // the next change, and how far into its entered / exited
  while (ci < changes.size()) {
    std::vector<MembershipChange> chunk;
    size_t budget = changes_per_transaction_;
    while (ci < changes.size() && budget > 0) {
      const MembershipChange& c = changes[ci];
      MembershipChange piece{c.segment_id, c.name, {}, {}};
      size_t take = std::min(budget, c.entered.size() - ei);
      piece.entered.assign(c.entered.begin() + static_cast<ptrdiff_t>(ei),
                           c.entered.begin() + static_cast<ptrdiff_t>(ei + take));
      ei += take;
      budget -= take;
      take = std::min(budget, c.exited.size() - xi);
      piece.exited.assign(c.exited.begin() + static_cast<ptrdiff_t>(xi),
                          c.exited.begin() + static_cast<ptrdiff_t>(xi + take));
      xi += take;
      budget -= take;
      chunk.push_back(std::move(piece));
      if (ei == c.entered.size() && xi == c.exited.size()) {
        ++ci;
        ei = xi = 0;
      }
    }
    int64_t n = 0;
    RG_TRY(db_.Write([&](store::Tx& tx) -> Status {
      n = 0;
      for (const MembershipChange& piece : chunk) {
        RG_ASSIGN_OR_RETURN(int64_t w, WriteMembershipChange(tx, merchant_id, now, piece));
        n += w;
      }
      return {};
    }));
    written += n;
  }
  State& s = state_[merchant_id];
  s.seen_seq = seq;
  s.evaluated_at = now;
  s.time_dependent = time_dependent;
  return written;
}

void SegmentMembership::Start(int poll_ms) {
  if (thread_.joinable()) return;
  {
    std::lock_guard lock(wake_mu_);
    stop_ = false;
  }
  thread_ = std::thread([this, poll_ms] {
    std::unique_lock lock(wake_mu_);
    while (!stop_) {
      lock.unlock();
      auto r = Refresh();
      if (!r) spdlog::warn("insight: segment membership: {}", r.error().ToString());
      lock.lock();
      wake_cv_.wait_for(lock, std::chrono::milliseconds(poll_ms), [this] { return stop_; });
    }
  });
}

void SegmentMembership::Stop() {
  {
    std::lock_guard lock(wake_mu_);
    stop_ = true;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace regulars::insight
