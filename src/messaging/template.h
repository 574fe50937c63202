#pragma once

// Message templates: Mustache (kainjow) variants per language, rendered against a plain JSON
// context (BuildContext). E-mail HTML is HTML-escaped; subjects, plain text and SMS are raw.
//
// Language: the member's language, then its sibling (zh-TW <-> zh-CN), the merchant's default
// language and its sibling, then en; the first variant present wins.
//
// Marketing messages carry a way out: a marketing e-mail template must use
// {{unsubscribe_url}} in its text (and HTML, when it has HTML) — refused otherwise — and its
// rendering gets List-Unsubscribe headers; a marketing SMS without {{unsubscribe_url}} or "STOP"
// gets a STOP instruction appended in its language.

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/ids.h"
#include "messaging/channel.h"
#include "messaging/policy.h"
#include "store/db.h"

namespace regulars::messaging {

struct Variant {
  std::string subject;  // e-mail only
  std::string text;
  std::string html;  // e-mail only, may be empty
};

struct Template {
  Id id = 0;
  std::string name;
  Medium medium = Medium::kEmail;
  Purpose purpose = Purpose::kTransactional;
  std::map<std::string, Variant> variants;  // "zh-TW", "zh-CN", "en"
};

// Parses {"zh-TW": {"subject": .., "text": .., "html": ..}, ...}; invalid_argument naming
// "variants.<lang>.<part>".
Result<std::map<std::string, Variant>> ParseVariants(const nlohmann::json& j);
nlohmann::json VariantsToJson(const std::map<std::string, Variant>& v);

// Checks every variant: Mustache syntax ("variants.en.html: unclosed section ..."), required
// parts (text; subject for e-mail), and the unsubscribe rule for marketing e-mail.
Status ValidateTemplate(const Template& t);

// The languages tried, in order, without repeats.
std::vector<std::string> LanguageChain(std::string_view member_language,
                                       std::string_view merchant_language);

// SMS length: GSM 03.38 7-bit when every character is in the basic or extension table (an
// extension character counts 2 septets), else UCS-2 (UTF-16 code units). A single part holds
// 160 septets / 70 units; a concatenated message 153 / 67 per part.
struct SmsLength {
  bool gsm7 = true;
  int units = 0;  // septets (GSM-7) or UTF-16 code units (UCS-2)
  int parts = 1;
  int64_t cost_minor = 0;  // parts × price per part
  friend bool operator==(const SmsLength&, const SmsLength&) = default;
};
SmsLength MeasureSms(std::string_view utf8, int64_t price_per_part_minor);

// Variables the template uses that the context lacks (absent or null), in order of first use,
// as dotted names ("member.name"). Names inside sections are looked up in the section's object
// (or its list's first element) and then outwards.
std::vector<std::string> MissingVariables(std::string_view mustache, const nlohmann::json& ctx);

struct Rendered {
  std::string language;  // the variant used
  std::string subject;
  std::string text;
  std::string html;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> missing;  // over all parts, without repeats
  std::optional<SmsLength> sms;      // SMS only
};

// A template parsed once, rendered many times. Not thread-safe (kainjow renders mutate the
// parsed template, and Bind keeps state); use one per thread.
//
// Speed: a part whose tags are all plain variables ({{a.b}}, {{{a}}}, {{&a}}, comments) is
// compiled to literal runs and variable slots and rendered without kainjow; the output is
// byte for byte what kainjow renders (template_render_test compares them). Parts with
// sections, partials or delimiter changes go through kainjow.
class CompiledTemplate {
 public:
  static Result<CompiledTemplate> Compile(const Template& t);
  CompiledTemplate(CompiledTemplate&&) noexcept;
  CompiledTemplate& operator=(CompiledTemplate&&) noexcept;
  ~CompiledTemplate();

  // Renders the variant LanguageChain picks. failed_precondition naming "variants" when no
  // language of the chain has a variant. `sms_price_minor` prices SMS parts.
  Result<Rendered> Render(const nlohmann::json& ctx, std::string_view member_language,
                          std::string_view merchant_language, int64_t sms_price_minor = 0);

  // Rendering many members without a JSON context each (bulk sends). Bind once: `names` are
  // the dotted variables every member supplies ("member.name", "unsubscribe_url"); the rest of
  // the context is `shared`, the same for everyone. RenderBound(values), values in the order of
  // `names` (nullopt = null), then renders exactly what Render renders for the context
  // `shared` with each name set to its value as a string (a number given as its decimal text
  // renders the same, as Render prints numbers). invalid_argument naming "variables[i]" for an
  // empty name, a repeat, or a name inside another ("member" with "member.name"). A new Bind
  // replaces the old one.
  Status Bind(std::vector<std::string> names, nlohmann::json shared);
  // failed_precondition naming "variables" before Bind; invalid_argument naming "values" when
  // their number is not the number of bound names.
  Result<Rendered> RenderBound(std::span<const std::optional<std::string>> values,
                               std::string_view member_language, std::string_view merchant_language,
                               int64_t sms_price_minor = 0);
  const Template& source() const;

 private:
  struct Impl;
  explicit CompiledTemplate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One-shot Compile + Render (previews).
Result<Rendered> RenderTemplate(const Template& t, const nlohmann::json& ctx,
                                std::string_view member_language,
                                std::string_view merchant_language, int64_t sms_price_minor = 0);

// What a template may use, read from the database:
//   merchant: {name, currency, language}
//   member:   {id, name, phone, email, language, referral_code}
//   balances: {points: {<point type code>: n}, wallet: {paid_minor, bonus_minor, total_minor}}
//   order:    {id, external_id, total_minor, currency, occurred_at}       (when order_id given)
//   coupon:   {code, valid_until, template_name}                          (when coupon_id given)
//   unsubscribe_url                                                        (when given)
// not_found naming member_id / order_id / coupon_id when missing.
struct ContextRequest {
  Id merchant_id = 0;
  Id member_id = 0;
  std::optional<Id> order_id;
  std::optional<Id> coupon_id;
  std::string unsubscribe_url;
};
Result<nlohmann::json> BuildContext(store::Tx& tx, const ContextRequest& r);

}  // namespace regulars::messaging
