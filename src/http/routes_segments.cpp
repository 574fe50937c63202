// Segments: saved member groups defined in the segment language (insight/segment.h), their live
// counts and members from the feature store, a preview that saves nothing, and the catalogue of
// features and known values the console's segment builder offers.

#include <fmt/format.h>

#include "http/router.h"
#include "insight/feature_store.h"
#include "insight/rfm.h"
#include "insight/segment_service.h"

namespace regulars::http {
namespace {

using insight::SavedSegment;
using insight::SegmentMemberSummary;

json SummaryJson(const SegmentMemberSummary& s) {
  auto group = static_cast<insight::RfmGroup>(s.rfm_group);
  return {{"id", IdToString(s.id)},
          {"name", s.name ? json(*s.name) : json(nullptr)},
          {"phone", s.phone ? json(*s.phone) : json(nullptr)},
          {"tier",
           s.tier_id ? json{{"id", IdToString(s.tier_id)}, {"name", s.tier_name}} : json(nullptr)},
          {"spend_minor", s.spend_minor},
          {"orders", s.orders},
          {"last_order_at", s.last_order_at ? json(FormatRfc3339(s.last_order_at)) : json(nullptr)},
          {"rfm_group", group == insight::RfmGroup::kNone
                            ? json(nullptr)
                            : json(std::string(insight::RfmGroupName(group)))}};
}

json SegmentJson(const SavedSegment& s, int64_t count) {
  return {{"id", IdToString(s.id)},
          {"name", s.name},
          {"definition", s.definition},
          {"count", count},
          {"created_at", FormatRfc3339(s.created_at)},
          {"updated_at", FormatRfc3339(s.updated_at)}};
}

Result<insight::SegmentInput> InputFields(const json& body) {
  RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(body, {"name", "definition"}));
  insight::SegmentInput in;
  RG_ASSIGN_OR_RETURN(in.name, f.String("name"));
  if (f.Has("definition")) in.definition = body.at("definition");
  return in;
}

// The live member ids of a saved segment (or of a definition being previewed).
Result<std::vector<Id>> LiveMembers(insight::FeatureStore* features, store::Tx& tx,
                                    const Request& r, const json& definition) {
  RG_ASSIGN_OR_RETURN(insight::SegmentNode node, insight::ParseSegmentDefinition(definition));
  RG_ASSIGN_OR_RETURN(auto defs, insight::LoadSegmentDefinitions(tx, r.actor.merchant_id));
  return insight::SegmentMemberIds(features, r.actor.merchant_id, node, defs, r.actor.now);
}

Result<int64_t> LiveCount(insight::FeatureStore* features, store::Tx& tx, const Request& r,
                          const json& definition) {
  RG_ASSIGN_OR_RETURN(insight::SegmentNode node, insight::ParseSegmentDefinition(definition));
  RG_ASSIGN_OR_RETURN(auto defs, insight::LoadSegmentDefinitions(tx, r.actor.merchant_id));
  return insight::SegmentMemberCount(features, r.actor.merchant_id, node, defs, r.actor.now);
}

json FeatureCatalogueJson(const insight::SegmentCatalogue& c) {
  auto strings = [](const std::vector<std::string>& v) {
    json out = json::array();
    for (const auto& s : v) out.push_back({{"value", s}, {"label", s}});
    return out;
  };
  auto named = [](const std::vector<insight::SegmentCatalogue::Named>& v) {
    json out = json::array();
    for (const auto& n : v) out.push_back({{"value", n.value}, {"label", n.label}});
    return out;
  };
  json groups = json::array();
  for (std::string_view g : insight::RfmGroupNames())
    groups.push_back({{"value", std::string(g)}, {"label", std::string(g)}});
  json features = json::array();
  for (const auto& info : insight::SegmentFeatures()) {
    using T = insight::FeatureType;
    std::string type = info.type == T::kNumber     ? "number"
                       : info.type == T::kScore    ? "score"
                       : info.type == T::kSet      ? "set"
                       : info.type == T::kTag      ? "set"
                       : info.type == T::kString   ? "string"
                       : info.type == T::kBool     ? "boolean"
                       : info.type == T::kBirthday ? "birthday"
                                                   : "days";
    json ops = json::array();
    for (auto op : info.ops) ops.push_back(std::string(insight::OpName(op)));
    json f = {{"name", std::string(info.name)},
              {"type", type},
              {"ops", ops},
              {"window", info.takes_window}};
    std::string_view n = info.name;
    if (n == "category") f["values"] = strings(c.categories);
    if (n == "sku") f["values"] = strings(c.skus);
    if (n == "branch") f["values"] = named(c.branches);
    if (n == "region") f["values"] = strings(c.regions);
    if (n == "city") f["values"] = strings(c.cities);
    if (n == "gender") f["values"] = strings(c.genders);
    if (n == "language") f["values"] = strings(c.languages);
    if (n == "tier") f["values"] = named(c.tiers);
    if (n == "tag") f["values"] = strings(c.tags);
    if (n == "rfm_group") f["values"] = groups;
    features.push_back(std::move(f));
  }
  return {{"features", features}};
}

}  // namespace

void RegisterSegmentRoutes(Router& router) {
  insight::FeatureStore* features = router.app().features;

  router.Write("POST", "/api/v1/segments", "Save a segment (a named member definition)",
               [features](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(auto in, InputFields(r.body));
                 RG_ASSIGN_OR_RETURN(SavedSegment s, insight::CreateSegment(tx, r.actor, in));
                 RG_ASSIGN_OR_RETURN(int64_t count, LiveCount(features, tx, r, s.definition));
                 return Reply{201, SegmentJson(s, count)};
               });
  router.Read(
      "GET", "/api/v1/segments", "Saved segments with their live counts",
      [features](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(int limit, r.Limit());
        RG_ASSIGN_OR_RETURN(auto page, insight::ListSegments(tx, r.actor, r.Cursor(), limit));
        // One load of the definitions references resolve to, for the whole page.
        RG_ASSIGN_OR_RETURN(auto defs, insight::LoadSegmentDefinitions(tx, r.actor.merchant_id));
        json data = json::array();
        for (const auto& s : page.items) {
          RG_ASSIGN_OR_RETURN(insight::SegmentNode node, insight::ParseSaved(s));
          RG_ASSIGN_OR_RETURN(
              int64_t count,
              insight::SegmentMemberCount(features, r.actor.merchant_id, node, defs, r.actor.now));
          data.push_back(SegmentJson(s, count));
        }
        return Reply{200, PageJson(std::move(data), page.next_cursor)};
      });
  router.Read("POST", "/api/v1/segments/preview",
              "How many members a definition matches, with a sample; nothing is saved",
              [features](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(Fields f, Fields::Of(r.body, {"definition"}));
                if (!f.Has("definition")) return InvalidField("definition", "is required");
                RG_ASSIGN_OR_RETURN(auto ids, LiveMembers(features, tx, r, r.body["definition"]));
                std::vector<Id> sample(ids.begin(), ids.begin() + std::min<size_t>(ids.size(), 10));
                RG_ASSIGN_OR_RETURN(auto summaries, insight::SummariseMembers(
                                                        tx, features, r.actor.merchant_id, sample));
                json out = json::array();
                for (const auto& s : summaries) out.push_back(SummaryJson(s));
                return Reply{200, {{"count", ids.size()}, {"sample", out}}};
              });
  router.Read("GET", "/api/v1/segments/{id}", "A saved segment with its live count",
              [features](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "segment"));
                RG_ASSIGN_OR_RETURN(SavedSegment s, insight::GetSegment(tx, r.actor, id));
                RG_ASSIGN_OR_RETURN(int64_t count, LiveCount(features, tx, r, s.definition));
                return Reply{200, SegmentJson(s, count)};
              });
  router.Write("PATCH", "/api/v1/segments/{id}", "Rename a segment or change its definition",
               [features](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "segment"));
                 RG_ASSIGN_OR_RETURN(auto in, InputFields(r.body));
                 RG_ASSIGN_OR_RETURN(SavedSegment s, insight::UpdateSegment(tx, r.actor, id, in));
                 RG_ASSIGN_OR_RETURN(int64_t count, LiveCount(features, tx, r, s.definition));
                 return Reply{200, SegmentJson(s, count)};
               });
  router.Write("DELETE", "/api/v1/segments/{id}", "Delete a saved segment",
               [](Request& r, store::Tx& tx) -> Result<Reply> {
                 RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "segment"));
                 RG_TRY(insight::DeleteSegment(tx, r.actor, id));
                 return Reply{204, json()};
               });
  router.Read(
      "GET", "/api/v1/segments/{id}/members", "A saved segment's current members, by member id",
      [features](Request& r, store::Tx& tx) -> Result<Reply> {
        RG_ASSIGN_OR_RETURN(Id id, r.IdParam("id", "segment"));
        RG_ASSIGN_OR_RETURN(int limit, r.Limit());
        RG_ASSIGN_OR_RETURN(SavedSegment s, insight::GetSegment(tx, r.actor, id));
        RG_ASSIGN_OR_RETURN(auto ids, LiveMembers(features, tx, r, s.definition));
        RG_ASSIGN_OR_RETURN(auto page, insight::PageOfIds(ids, r.Cursor(), limit));
        RG_ASSIGN_OR_RETURN(auto summaries, insight::SummariseMembers(
                                                tx, features, r.actor.merchant_id, page.items));
        json data = json::array();
        for (const auto& m : summaries) data.push_back(SummaryJson(m));
        return Reply{200, PageJson(std::move(data), page.next_cursor)};
      });
  router.Read("GET", "/api/v1/insight/catalogue",
              "The segment language's features, operators and known values",
              [features](Request& r, store::Tx& tx) -> Result<Reply> {
                RG_ASSIGN_OR_RETURN(auto c, insight::Catalogue(tx, features, r.actor));
                return Reply{200, FeatureCatalogueJson(c)};
              });
}

}  // namespace regulars::http
