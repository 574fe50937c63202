#include "messaging/template.h"

#include <fmt/format.h>

#include <algorithm>
#include <kainjow/mustache.hpp>
#include <set>

namespace regulars::messaging {
namespace {

namespace mu = kainjow::mustache;

// --- JSON -> kainjow data -------------------------------------------------------------------

mu::data ToData(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      mu::data d{mu::data::type::object};
      for (auto it = j.begin(); it != j.end(); ++it) d.set(it.key(), ToData(it.value()));
      return d;
    }
    case nlohmann::json::value_t::array: {
      mu::data d{mu::data::type::list};
      for (const auto& e : j) d.push_back(ToData(e));
      return d;
    }
    case nlohmann::json::value_t::string:
      return mu::data{j.get_ref<const std::string&>()};
    case nlohmann::json::value_t::boolean:
      return mu::data{j.get<bool>()};
    case nlohmann::json::value_t::null:
      return mu::data{false};
    default:
      return mu::data{j.dump()};
  }
}

// --- Tag scanning (for missing variables and the unsubscribe rule) ----------------------------

struct Tag {
  char sigil = 0;  // 0 variable, '#', '^', '/', '&', '{', '!', '>', '='
  std::string name;
};

std::string Trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return std::string(s.substr(a, b - a));
}

std::vector<Tag> ScanTags(std::string_view s) {
  std::vector<Tag> tags;
  size_t pos = 0;
  while ((pos = s.find("{{", pos)) != std::string_view::npos) {
    bool triple = s.substr(pos, 3) == "{{{";
    size_t start = pos + (triple ? 3 : 2);
    size_t end = s.find(triple ? "}}}" : "}}", start);
    if (end == std::string_view::npos) break;
    std::string inner = Trim(s.substr(start, end - start));
    Tag t;
    if (triple) {
      t.sigil = '{';
    } else if (!inner.empty() && std::string_view("#^/&!>=").find(inner[0]) != std::string::npos) {
      t.sigil = inner[0];
      inner = Trim(std::string_view(inner).substr(1));
    }
    t.name = inner;
    tags.push_back(std::move(t));
    pos = end + (triple ? 3 : 2);
  }
  return tags;
}

bool UsesVariable(std::string_view s, std::string_view name) {
  for (const Tag& t : ScanTags(s))
    if ((t.sigil == 0 || t.sigil == '&' || t.sigil == '{') && t.name == name) return true;
  return false;
}

const nlohmann::json* Lookup(const nlohmann::json& ctx, std::string_view dotted) {
  if (dotted == ".") return &ctx;
  const nlohmann::json* cur = &ctx;
  size_t pos = 0;
  while (true) {
    size_t dot = dotted.find('.', pos);
    std::string part(dotted.substr(pos, dot == std::string_view::npos ? dotted.npos : dot - pos));
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string_view::npos) return cur;
    pos = dot + 1;
  }
}

// --- SMS -----------------------------------------------------------------------------------

// GSM 03.38 basic character set (as Unicode code points) and the extension table.
const std::set<char32_t>& GsmBasic() {
  static const std::set<char32_t> kSet = [] {
    std::set<char32_t> s;
    const char32_t* basic =
        U"@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        U"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    for (const char32_t* p = basic; *p; ++p) s.insert(*p);
    return s;
  }();
  return kSet;
}
bool GsmExtension(char32_t c) {
  return std::u32string_view(U"^{}\\[~]|€\f").find(c) != std::u32string_view::npos;
}

std::u32string DecodeUtf8(std::string_view s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    char32_t cp;
    int n;
    if (c < 0x80) {
      cp = c;
      n = 1;
    } else if ((c >> 5) == 6) {
      cp = c & 0x1F;
      n = 2;
    } else if ((c >> 4) == 14) {
      cp = c & 0x0F;
      n = 3;
    } else if ((c >> 3) == 30) {
      cp = c & 0x07;
      n = 4;
    } else {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    if (i + n > s.size()) {
      out.push_back(0xFFFD);
      break;
    }
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += n;
  }
  return out;
}

std::string StopInstruction(std::string_view language) {
  if (language == "zh-TW") return "回覆STOP退訂";
  if (language == "zh-CN") return "回复STOP退订";
  return "Reply STOP to opt out";
}

std::string Sibling(std::string_view lang) {
  if (lang == "zh-TW") return "zh-CN";
  if (lang == "zh-CN") return "zh-TW";
  return "";
}

Result<mu::mustache> Parse(const std::string& src, const std::string& field) {
  mu::mustache m{src};
  if (!m.is_valid()) return InvalidField(field, m.error_message());
  return m;
}

}  // namespace

// --- Variants ------------------------------------------------------------------------------

Result<std::map<std::string, Variant>> ParseVariants(const nlohmann::json& j) {
  if (!j.is_object() || j.empty())
    return InvalidField("variants", "must be an object with at least one language");
  std::map<std::string, Variant> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& lang = it.key();
    std::string f = "variants." + lang;
    if (lang != "zh-TW" && lang != "zh-CN" && lang != "en")
      return InvalidField(f, "language must be zh-TW, zh-CN or en");
    if (!it->is_object()) return InvalidField(f, "must be an object");
    Variant v;
    for (auto [key, dst] : {std::pair{"subject", &v.subject}, std::pair{"text", &v.text},
                            std::pair{"html", &v.html}}) {
      auto p = it->find(key);
      if (p == it->end() || p->is_null()) continue;
      if (!p->is_string()) return InvalidField(f + "." + key, "must be a string");
      *dst = p->get<std::string>();
    }
    for (auto p = it->begin(); p != it->end(); ++p)
      if (p.key() != "subject" && p.key() != "text" && p.key() != "html")
        return InvalidField(f + "." + p.key(), "unknown part (subject, text, html)");
    out[lang] = std::move(v);
  }
  return out;
}

nlohmann::json VariantsToJson(const std::map<std::string, Variant>& v) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [lang, var] : v) {
    nlohmann::json o = {{"text", var.text}};
    if (!var.subject.empty()) o["subject"] = var.subject;
    if (!var.html.empty()) o["html"] = var.html;
    j[lang] = std::move(o);
  }
  return j;
}

Status ValidateTemplate(const Template& t) {
  if (t.variants.empty()) return InvalidField("variants", "at least one language is required");
  for (const auto& [lang, v] : t.variants) {
    std::string f = "variants." + lang;
    if (v.text.empty()) return InvalidField(f + ".text", "required");
    if (t.medium == Medium::kEmail && v.subject.empty())
      return InvalidField(f + ".subject", "required for e-mail");
    if (t.medium != Medium::kEmail && (!v.subject.empty() || !v.html.empty()))
      return InvalidField(f + (v.html.empty() ? ".subject" : ".html"), "e-mail only");
    RG_TRY(Parse(v.subject, f + ".subject"));
    RG_TRY(Parse(v.text, f + ".text"));
    RG_TRY(Parse(v.html, f + ".html"));
    if (t.medium == Medium::kEmail && t.purpose == Purpose::kMarketing) {
      if (!UsesVariable(v.text, "unsubscribe_url"))
        return InvalidField(f + ".text", "a marketing e-mail must contain {{unsubscribe_url}}");
      if (!v.html.empty() && !UsesVariable(v.html, "unsubscribe_url"))
        return InvalidField(f + ".html", "a marketing e-mail must contain {{unsubscribe_url}}");
    }
  }
  return {};
}

std::vector<std::string> LanguageChain(std::string_view member_language,
                                       std::string_view merchant_language) {
  std::vector<std::string> out;
  auto add = [&](std::string l) {
    if (!l.empty() && std::find(out.begin(), out.end(), l) == out.end()) out.push_back(l);
  };
  add(std::string(member_language));
  add(Sibling(member_language));
  add(std::string(merchant_language));
  add(Sibling(merchant_language));
  add("en");
  return out;
}

SmsLength MeasureSms(std::string_view utf8, int64_t price_per_part_minor) {
  std::u32string cps = DecodeUtf8(utf8);
  SmsLength r;
  int septets = 0;
  for (char32_t c : cps) {
    if (GsmBasic().contains(c)) {
      septets += 1;
    } else if (GsmExtension(c)) {
      septets += 2;
    } else {
      r.gsm7 = false;
      break;
    }
  }
  if (r.gsm7) {
    r.units = septets;
    r.parts = septets <= 160 ? 1 : (septets + 152) / 153;
  } else {
    int units = 0;
    for (char32_t c : cps) units += c > 0xFFFF ? 2 : 1;
    r.units = units;
    r.parts = units <= 70 ? 1 : (units + 66) / 67;
  }
  r.cost_minor = r.parts * price_per_part_minor;
  return r;
}

std::vector<std::string> MissingVariables(std::string_view src, const nlohmann::json& ctx) {
  std::vector<std::string> missing;
  // Contexts from the innermost section outwards; nullptr for a section we cannot see into.
  std::vector<const nlohmann::json*> stack = {&ctx};
  auto find = [&](const std::string& name) -> const nlohmann::json* {
    for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
      if (!*it) return &ctx;  // inside an unknown section: do not guess
      if (const nlohmann::json* v = Lookup(**it, name)) return v;
    }
    return nullptr;
  };
  for (const Tag& t : ScanTags(src)) {
    switch (t.sigil) {
      case 0:
      case '&':
      case '{': {
        const nlohmann::json* v = find(t.name);
        if ((!v || v->is_null()) &&
            std::find(missing.begin(), missing.end(), t.name) == missing.end())
          missing.push_back(t.name);
        break;
      }
      case '#':
      case '^': {
        const nlohmann::json* v = find(t.name);
        if (v && v->is_array()) v = v->empty() ? nullptr : &(*v)[0];
        stack.push_back(v && v->is_object() ? v : (v ? stack.back() : nullptr));
        break;
      }
      case '/':
        if (stack.size() > 1) stack.pop_back();
        break;
      default:
        break;
    }
  }
  return missing;
}

// --- Compiled templates --------------------------------------------------------------------

namespace {

// A part whose tags are all plain variables (and comments), split as kainjow's parser splits
// it with the default delimiters: literal runs and variable slots. kainjow renders such a part
// as the plain concatenation of its pieces (its standalone-line rule only applies to lines with
// section tags), so rendering the pieces gives the same bytes.
struct FlatPiece {
  std::string text;  // a literal run when var < 0
  int var = -1;      // index into CompiledVariant::vars
  bool escape = false;
};

struct FlatPart {
  bool flat = false;
  std::vector<FlatPiece> pieces;
  size_t literal_bytes = 0;
};

// kainjow's trim (std::isspace in the C locale).
std::string_view KTrim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

// Names both kainjow and Lookup resolve the same way: dot-separated, no empty segment, and not
// starting with a character a tag gives a meaning to.
bool PlainName(std::string_view n) {
  if (n.empty() || n.front() == '.' || n.back() == '.' || n.find("..") != n.npos) return false;
  return std::string_view("#^/>!&={").find(n.front()) == std::string_view::npos;
}

std::vector<std::string> SplitPath(std::string_view dotted) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t dot = dotted.find('.', pos);
    out.emplace_back(dotted.substr(pos, dot == dotted.npos ? dotted.npos : dot - pos));
    if (dot == dotted.npos) return out;
    pos = dot + 1;
  }
}

int VarIndex(std::vector<std::string>& vars, std::string_view name) {
  for (size_t i = 0; i < vars.size(); ++i)
    if (vars[i] == name) return static_cast<int>(i);
  vars.emplace_back(name);
  return static_cast<int>(vars.size() - 1);
}

// Not flat (flat = false) as soon as a tag is anything but a variable or a comment, or names
// something PlainName refuses.
FlatPart CompileFlat(std::string_view src, bool html, std::vector<std::string>& vars) {
  FlatPart p;
  std::string lit;
  auto flush = [&] {
    if (lit.empty()) return;
    p.literal_bytes += lit.size();
    p.pieces.push_back(FlatPiece{std::move(lit), -1, false});
    lit.clear();
  };
  const size_t n = src.size();
  for (size_t i = 0; i < n;) {
    if (src.compare(i, 2, "{{") != 0) {
      lit.push_back(src[i++]);
      continue;
    }
    const bool triple = i + 2 < n && src[i + 2] == '{';
    const size_t start = i + (triple ? 3 : 2);
    const size_t end = src.find(triple ? "}}}" : "}}", start);
    if (end == src.npos) return FlatPart{};
    std::string_view contents = KTrim(src.substr(start, end - start));
    i = end + (triple ? 3 : 2);
    if (contents.empty()) return FlatPart{};
    std::string_view name = contents;
    bool escape = html;
    if (triple) {
      escape = false;
    } else if (contents[0] == '!') {
      continue;  // a comment renders nothing
    } else if (contents[0] == '&') {
      name = KTrim(contents.substr(1));
      escape = false;
    }
    if (!PlainName(name)) return FlatPart{};
    flush();
    p.pieces.push_back(FlatPiece{{}, VarIndex(vars, name), escape});
  }
  flush();
  p.flat = true;
  return p;
}

// kainjow's html_escape, appended in runs.
void AppendHtmlEscaped(std::string& out, std::string_view s) {
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    std::string_view rep;
    switch (s[i]) {
      case '&':
        rep = "&amp;";
        break;
      case '<':
        rep = "&lt;";
        break;
      case '>':
        rep = "&gt;";
        break;
      case '"':
        rep = "&quot;";
        break;
      case '\'':
        rep = "&apos;";
        break;
      default:
        continue;
    }
    out.append(s.substr(run, i - run));
    out.append(rep);
    run = i + 1;
  }
  out.append(s.substr(run));
}

void RenderFlat(const FlatPart& p, const std::vector<std::string_view>& vals, std::string& out) {
  size_t size = p.literal_bytes;
  for (const FlatPiece& piece : p.pieces)
    if (piece.var >= 0) size += vals[piece.var].size();
  out.reserve(size + size / 8);
  for (const FlatPiece& piece : p.pieces) {
    if (piece.var < 0)
      out.append(piece.text);
    else if (piece.escape)
      AppendHtmlEscaped(out, vals[piece.var]);
    else
      out.append(vals[piece.var]);
  }
}

// A dotted path walked as kainjow walks its data: through objects only.
const nlohmann::json* Walk(const nlohmann::json& ctx, const std::vector<std::string>& path) {
  const nlohmann::json* cur = &ctx;
  for (const std::string& seg : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(seg);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

// What a variable renders as (kainjow data from ToData: strings as they are, numbers as
// dump(), everything else nothing) and whether MissingVariables reports it (absent or null).
// `scratch` holds the text of numbers; it must have room reserved so views stay valid.
std::string_view Resolve(const nlohmann::json* node, std::vector<std::string>& scratch,
                         bool& missing) {
  missing = !node || node->is_null();
  if (!node) return {};
  if (node->is_string()) return node->get_ref<const std::string&>();
  if (node->is_number()) {
    scratch.push_back(node->dump());
    return scratch.back();
  }
  return {};
}

// Sets `path` in `root` to `v`, turning whatever is in the way into objects.
void SetPath(nlohmann::json& root, const std::vector<std::string>& path, nlohmann::json v) {
  nlohmann::json* cur = &root;
  for (const std::string& seg : path) {
    if (!cur->is_object()) *cur = nlohmann::json::object();
    cur = &(*cur)[seg];
  }
  *cur = std::move(v);
}

}  // namespace

struct CompiledVariant {
  mu::mustache subject{""};
  mu::mustache text{""};
  mu::mustache html{""};
  bool has_html = false;
  bool sms_has_exit = false;  // an SMS that already says how to stop
  Variant source;

  // Flat rendering (all three parts flat): the variables in order of first use over subject,
  // text and html (the order Rendered::missing follows), and their paths.
  bool flat = false;
  FlatPart flat_subject, flat_text, flat_html;
  std::vector<std::string> vars;
  std::vector<std::vector<std::string>> var_paths;
  // Bind's resolution of each variable: a position in the bound values, or (slot < 0) a fixed
  // value from the shared context.
  std::vector<int> slot;
  std::vector<std::string> fixed;
  std::vector<char> fixed_missing;
};

struct CompiledTemplate::Impl {
  Template t;
  std::map<std::string, std::unique_ptr<CompiledVariant>> variants;

  // Bind's state.
  bool bound = false;
  std::vector<std::string> bound_names;
  std::vector<std::vector<std::string>> bound_paths;
  nlohmann::json bound_shared;
  int unsubscribe_slot = -1;                     // a bound name, or
  std::optional<std::string> unsubscribe_fixed;  // a string in the shared context

  // The variant LanguageChain picks, or a failed_precondition naming "variants".
  Result<CompiledVariant*> Pick(std::string_view member_language,
                                std::string_view merchant_language, std::string& language) {
    for (const std::string& lang : LanguageChain(member_language, merchant_language)) {
      auto it = variants.find(lang);
      if (it != variants.end()) {
        language = lang;
        return it->second.get();
      }
    }
    return Fail(Code::kFailedPrecondition,
                fmt::format("variants: no variant for {} or a fallback language",
                            member_language.empty() ? merchant_language : member_language),
                "variants");
  }

  // Everything after the parts: List-Unsubscribe headers, the SMS STOP line, SMS length.
  void Finish(Rendered& r, const CompiledVariant& v, const std::string* unsubscribe_url,
              int64_t sms_price_minor) const {
    if (t.purpose == Purpose::kMarketing) {
      if (t.medium == Medium::kEmail && unsubscribe_url && !unsubscribe_url->empty()) {
        r.headers.emplace_back("List-Unsubscribe", "<" + *unsubscribe_url + ">");
        r.headers.emplace_back("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
      }
      if (t.medium == Medium::kSms && !v.sms_has_exit) r.text += "\n" + StopInstruction(r.language);
    }
    if (t.medium == Medium::kSms) r.sms = MeasureSms(r.text, sms_price_minor);
  }

  void RenderParts(Rendered& r, const CompiledVariant& v,
                   const std::vector<std::string_view>& vals) const {
    if (t.medium == Medium::kEmail) RenderFlat(v.flat_subject, vals, r.subject);
    RenderFlat(v.flat_text, vals, r.text);
    if (v.has_html) RenderFlat(v.flat_html, vals, r.html);
  }
};

CompiledTemplate::CompiledTemplate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompiledTemplate::CompiledTemplate(CompiledTemplate&&) noexcept = default;
CompiledTemplate& CompiledTemplate::operator=(CompiledTemplate&&) noexcept = default;
CompiledTemplate::~CompiledTemplate() = default;
const Template& CompiledTemplate::source() const { return impl_->t; }

Result<CompiledTemplate> CompiledTemplate::Compile(const Template& t) {
  RG_TRY(ValidateTemplate(t));
  auto impl = std::make_unique<Impl>();
  impl->t = t;
  auto raw = [](const std::string& s) { return s; };
  for (const auto& [lang, v] : t.variants) {
    auto cv = std::make_unique<CompiledVariant>();
    cv->source = v;
    cv->subject = mu::mustache{v.subject};
    cv->text = mu::mustache{v.text};
    cv->html = mu::mustache{v.html};
    cv->subject.set_custom_escape(raw);
    cv->text.set_custom_escape(raw);
    cv->has_html = !v.html.empty();
    cv->sms_has_exit =
        UsesVariable(v.text, "unsubscribe_url") || v.text.find("STOP") != std::string::npos;
    cv->flat_subject = CompileFlat(v.subject, false, cv->vars);
    cv->flat_text = CompileFlat(v.text, false, cv->vars);
    cv->flat_html = CompileFlat(v.html, true, cv->vars);
    cv->flat = cv->flat_subject.flat && cv->flat_text.flat && cv->flat_html.flat;
    if (cv->flat) {
      for (const std::string& name : cv->vars) cv->var_paths.push_back(SplitPath(name));
    } else {
      cv->vars.clear();
    }
    impl->variants[lang] = std::move(cv);
  }
  return CompiledTemplate(std::move(impl));
}

Result<Rendered> CompiledTemplate::Render(const nlohmann::json& ctx,
                                          std::string_view member_language,
                                          std::string_view merchant_language,
                                          int64_t sms_price_minor) {
  Rendered r;
  RG_ASSIGN_OR_RETURN(CompiledVariant * v,
                      impl_->Pick(member_language, merchant_language, r.language));
  const Template& t = impl_->t;
  const nlohmann::json* url = Lookup(ctx, "unsubscribe_url");
  const std::string* unsubscribe_url =
      url && url->is_string() ? &url->get_ref<const std::string&>() : nullptr;
  if (v->flat) {
    std::vector<std::string> scratch;
    scratch.reserve(v->vars.size());
    std::vector<std::string_view> vals(v->vars.size());
    for (size_t k = 0; k < v->vars.size(); ++k) {
      bool missing = false;
      vals[k] = Resolve(Walk(ctx, v->var_paths[k]), scratch, missing);
      if (missing) r.missing.push_back(v->vars[k]);
    }
    impl_->RenderParts(r, *v, vals);
  } else {
    mu::data data = ToData(ctx);
    if (t.medium == Medium::kEmail) r.subject = v->subject.render(data);
    r.text = v->text.render(data);
    if (v->has_html) r.html = v->html.render(data);
    for (const std::string* part : {&v->source.subject, &v->source.text, &v->source.html})
      for (std::string& name : MissingVariables(*part, ctx))
        if (std::find(r.missing.begin(), r.missing.end(), name) == r.missing.end())
          r.missing.push_back(std::move(name));
  }
  impl_->Finish(r, *v, unsubscribe_url, sms_price_minor);
  return r;
}

Status CompiledTemplate::Bind(std::vector<std::string> names, nlohmann::json shared) {
  Impl& im = *impl_;
  im.bound = false;
  if (shared.is_null()) shared = nlohmann::json::object();
  if (!shared.is_object()) return InvalidField("shared", "must be an object");
  for (size_t i = 0; i < names.size(); ++i) {
    std::string f = fmt::format("variables[{}]", i);
    if (!PlainName(names[i]))
      return InvalidField(f, "must be a dotted variable name such as member.name");
    for (size_t j = 0; j < i; ++j) {
      const std::string &a = names[j], &b = names[i];
      if (a == b) return InvalidField(f, fmt::format("repeats variables[{}]", j));
      const std::string& shorter = a.size() < b.size() ? a : b;
      const std::string& longer = a.size() < b.size() ? b : a;
      if (longer.starts_with(shorter) && longer[shorter.size()] == '.')
        return InvalidField(f, fmt::format("{} is inside {}", longer, shorter));
    }
  }
  // The context every member's context is shared plus its values; placeholders stand for the
  // values while the variables that are not bound are resolved.
  nlohmann::json skeleton = shared;
  im.bound_paths.clear();
  for (const std::string& name : names) {
    im.bound_paths.push_back(SplitPath(name));
    SetPath(skeleton, im.bound_paths.back(), "");
  }
  im.unsubscribe_slot = -1;
  im.unsubscribe_fixed.reset();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == "unsubscribe_url") im.unsubscribe_slot = static_cast<int>(i);
  if (im.unsubscribe_slot < 0)
    if (const nlohmann::json* u = Lookup(skeleton, "unsubscribe_url"); u && u->is_string())
      im.unsubscribe_fixed = u->get<std::string>();
  for (auto& [lang, v] : im.variants) {
    if (!v->flat) continue;
    const size_t nv = v->vars.size();
    v->slot.assign(nv, -1);
    v->fixed.assign(nv, std::string());
    v->fixed_missing.assign(nv, 0);
    std::vector<std::string> scratch;
    scratch.reserve(nv);
    for (size_t k = 0; k < nv; ++k) {
      auto it = std::find(names.begin(), names.end(), v->vars[k]);
      if (it != names.end()) {
        v->slot[k] = static_cast<int>(it - names.begin());
        continue;
      }
      bool missing = false;
      v->fixed[k] = std::string(Resolve(Walk(skeleton, v->var_paths[k]), scratch, missing));
      v->fixed_missing[k] = missing;
    }
  }
  im.bound_names = std::move(names);
  im.bound_shared = std::move(shared);
  im.bound = true;
  return {};
}

Result<Rendered> CompiledTemplate::RenderBound(std::span<const std::optional<std::string>> values,
                                               std::string_view member_language,
                                               std::string_view merchant_language,
                                               int64_t sms_price_minor) {
  Impl& im = *impl_;
  if (!im.bound)
    return Fail(Code::kFailedPrecondition, "variables: nothing is bound (call Bind first)",
                "variables");
  if (values.size() != im.bound_names.size())
    return InvalidField("values", fmt::format("{} given for {} bound variables", values.size(),
                                              im.bound_names.size()));
  std::string language;
  RG_ASSIGN_OR_RETURN(CompiledVariant * v, im.Pick(member_language, merchant_language, language));
  if (!v->flat) {
    nlohmann::json ctx = im.bound_shared;
    for (size_t i = 0; i < values.size(); ++i)
      SetPath(ctx, im.bound_paths[i], values[i] ? nlohmann::json(*values[i]) : nullptr);
    return Render(ctx, member_language, merchant_language, sms_price_minor);
  }
  Rendered r;
  r.language = std::move(language);
  const size_t nv = v->vars.size();
  std::vector<std::string_view> vals(nv);
  for (size_t k = 0; k < nv; ++k) {
    bool missing;
    if (int s = v->slot[k]; s >= 0) {
      missing = !values[s];
      vals[k] = values[s] ? std::string_view(*values[s]) : std::string_view();
    } else {
      missing = v->fixed_missing[k];
      vals[k] = v->fixed[k];
    }
    if (missing) r.missing.push_back(v->vars[k]);
  }
  im.RenderParts(r, *v, vals);
  const std::string* url =
      im.unsubscribe_slot >= 0
          ? (values[im.unsubscribe_slot] ? &*values[im.unsubscribe_slot] : nullptr)
          : (im.unsubscribe_fixed ? &*im.unsubscribe_fixed : nullptr);
  im.Finish(r, *v, url, sms_price_minor);
  return r;
}

Result<Rendered> RenderTemplate(const Template& t, const nlohmann::json& ctx,
                                std::string_view member_language,
                                std::string_view merchant_language, int64_t sms_price_minor) {
  RG_ASSIGN_OR_RETURN(CompiledTemplate c, CompiledTemplate::Compile(t));
  return c.Render(ctx, member_language, merchant_language, sms_price_minor);
}

// --- Context -------------------------------------------------------------------------------

Result<nlohmann::json> BuildContext(store::Tx& tx, const ContextRequest& r) {
  nlohmann::json ctx = nlohmann::json::object();
  RG_ASSIGN_OR_RETURN(store::Rows mer,
                      tx.Query("SELECT name, currency, language FROM merchants WHERE "
                               "merchant_id = ?",
                               {r.merchant_id}));
  if (mer.empty()) return Fail(Code::kNotFound, "merchant not found", "merchant_id");
  ctx["merchant"] = {
      {"name", mer[0].Str(0)}, {"currency", mer[0].Str(1)}, {"language", mer[0].Str(2)}};
  RG_ASSIGN_OR_RETURN(store::Rows mem,
                      tx.Query("SELECT name, phone, email, language, referral_code FROM members "
                               "WHERE merchant_id = ? AND id = ? AND erased_at IS NULL",
                               {r.merchant_id, r.member_id}));
  if (mem.empty()) return Fail(Code::kNotFound, "member not found", "member_id");
  nlohmann::json member = {{"id", IdToString(r.member_id)}, {"referral_code", mem[0].Str(4)}};
  const char* names[] = {"name", "phone", "email", "language"};
  for (size_t i = 0; i < 4; ++i)
    member[names[i]] = mem[0].IsNull(i) ? nlohmann::json(nullptr) : nlohmann::json(mem[0].Str(i));
  ctx["member"] = std::move(member);

  nlohmann::json points = nlohmann::json::object();
  RG_ASSIGN_OR_RETURN(store::Rows pts,
                      tx.Query("SELECT t.code, b.balance FROM point_balances b JOIN point_types t "
                               "ON t.merchant_id = b.merchant_id AND t.id = b.point_type_id "
                               "WHERE b.merchant_id = ? AND b.member_id = ? ORDER BY t.code",
                               {r.merchant_id, r.member_id}));
  for (const auto& row : pts) points[row.Str(0)] = row.Int(1);
  RG_ASSIGN_OR_RETURN(store::Rows wal,
                      tx.Query("SELECT paid_minor, bonus_minor FROM wallet_balances WHERE "
                               "merchant_id = ? AND member_id = ?",
                               {r.merchant_id, r.member_id}));
  int64_t paid = wal.empty() ? 0 : wal[0].Int(0), bonus = wal.empty() ? 0 : wal[0].Int(1);
  ctx["balances"] = {
      {"points", std::move(points)},
      {"wallet", {{"paid_minor", paid}, {"bonus_minor", bonus}, {"total_minor", paid + bonus}}}};

  if (r.order_id) {
    RG_ASSIGN_OR_RETURN(store::Rows o,
                        tx.Query("SELECT external_id, total_minor, currency, occurred_at FROM "
                                 "orders WHERE merchant_id = ? AND id = ? AND member_id = ?",
                                 {r.merchant_id, *r.order_id, r.member_id}));
    if (o.empty()) return Fail(Code::kNotFound, "order not found", "order_id");
    ctx["order"] = {{"id", IdToString(*r.order_id)},
                    {"external_id", o[0].Str(0)},
                    {"total_minor", o[0].Int(1)},
                    {"currency", o[0].Str(2)},
                    {"occurred_at", FormatRfc3339(o[0].Int(3))}};
  }
  if (r.coupon_id) {
    RG_ASSIGN_OR_RETURN(store::Rows c,
                        tx.Query("SELECT c.code, c.valid_until, t.name FROM coupons c JOIN "
                                 "coupon_templates t ON t.merchant_id = c.merchant_id AND "
                                 "t.id = c.template_id WHERE c.merchant_id = ? AND c.id = ? AND "
                                 "c.member_id = ?",
                                 {r.merchant_id, *r.coupon_id, r.member_id}));
    if (c.empty()) return Fail(Code::kNotFound, "coupon not found", "coupon_id");
    ctx["coupon"] = {{"code", c[0].Str(0)},
                     {"valid_until", c[0].IsNull(1) ? nlohmann::json(nullptr)
                                                    : nlohmann::json(FormatRfc3339(c[0].Int(1)))},
                     {"template_name", c[0].Str(2)}};
  }
  if (!r.unsubscribe_url.empty()) ctx["unsubscribe_url"] = r.unsubscribe_url;
  return ctx;
}

}  // namespace regulars::messaging
