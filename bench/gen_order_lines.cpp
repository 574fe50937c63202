// bench_gen_order_lines: writes a realistic order-lines CSV in the importer's `generic` preset
// layout, for the import benchmark (bench/run_import.sh).
//
//   bench_gen_order_lines --lines 5000000 --out /tmp/orders_5m.csv [--seed 1] [--customers 200000]
//
// The same arguments always give the same bytes (own PRNG, no std:: distributions, whose output
// differs between standard libraries). What is in it:
// - Orders of 1-8 lines (mostly 1-3), numbered "S00000001"... in time order over three years
//   (2023-01-01 to 2025-12-31, Asia/Taipei local times "2024-03-05 14:22:10"), shop hours only.
// - ~200,000 customers, regulars buying far more often than others (a skewed pick). Each has a
//   Taiwanese mobile number (85%), an e-mail (40%) and the store's customer id (70%), at least one
//   of them; a Chinese or English name. 15% of orders are anonymous (no customer columns).
// - About 2% of orders are returns: a later order "R..." of one line with a negative quantity of
//   something the same customer bought shortly before.
// - 120 products with Chinese and English names (some with commas and quotes, so quoting is
//   exercised), categories, integer TWD prices; line_total = quantity x unit_price.
// Columns (the generic preset): order_id,occurred_at,sku,name,category,quantity,unit_price,
// line_total,customer_id,phone,email,customer_name,country,city,branch,currency
// (branch is left empty: the benchmark merchant has no branches to name).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

// splitmix64: small, fast, and the same everywhere.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>((Next() >> 11) * 0x1.0p-53 * n); }
  double Unit() { return (Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }
};

struct Product {
  std::string sku, name, category;
  int price;
};

std::vector<Product> Catalogue() {
  const char* zh_teas[] = {"珍珠奶茶",     "紅茶拿鐵", "烏龍綠茶",   "冬瓜檸檬", "芋頭鮮奶",
                           "黑糖珍珠鮮奶", "四季春茶", "百香果綠茶", "抹茶拿鐵", "蜂蜜檸檬"};
  const char* en_teas[] = {"Bubble Milk Tea",    "Black Tea Latte",         "Oolong Green Tea",
                           "Winter Melon Lemon", "Taro Fresh Milk",         "Brown Sugar Boba Milk",
                           "Four Seasons Tea",   "Passion Fruit Green Tea", "Matcha Latte",
                           "Honey Lemon"};
  const char* sizes[] = {"M", "L"};
  std::vector<Product> out;
  int n = 0;
  for (int t = 0; t < 10; ++t)
    for (int s = 0; s < 2; ++s)
      for (int lang = 0; lang < 2; ++lang) {
        Product p;
        p.sku = "T" + std::to_string(100 + n);
        p.name = lang == 0 ? std::string(zh_teas[t]) + " (" + (s ? "大" : "中") + ")"
                           : std::string(en_teas[t]) + " " + sizes[s];
        p.category = "tea";
        p.price = 45 + 5 * t + 10 * s;
        out.push_back(p);
        ++n;
      }
  const char* snacks[] = {"雞排",   "Fries, large",
                          "鹹酥雞", "Waffle \"classic\"",
                          "蛋餅",   "Toast, peanut butter",
                          "地瓜球", "Brownie",
                          "蔥油餅", "Cookie"};
  for (int i = 0; i < 10; ++i)
    for (int v = 0; v < 4; ++v) {
      Product p;
      p.sku = "F" + std::to_string(200 + i * 4 + v);
      p.name = std::string(snacks[i]) + (v ? " #" + std::to_string(v) : "");
      p.category = "snack";
      p.price = 35 + 10 * i + 5 * v;
      out.push_back(p);
    }
  const char* goods[] = {"環保杯", "Tumbler 500ml", "提袋",     "Gift card sleeve",
                         "吸管組", "Mug, ceramic",  "茶葉禮盒", "Tea bags (20)",
                         "貼紙",   "Keychain"};
  for (int i = 0; i < 10; ++i)
    for (int v = 0; v < 4; ++v) {
      Product p;
      p.sku = "G" + std::to_string(300 + i * 4 + v);
      p.name = std::string(goods[i]) + (v ? " v" + std::to_string(v) : "");
      p.category = "goods";
      p.price = 80 + 60 * i + 20 * v;
      out.push_back(p);
    }
  return out;
}

struct Customer {
  std::string id, phone, email, name;
  int city;
};

const char* kCities[] = {"Taipei", "New Taipei", "Taoyuan", "Taichung",
                         "Tainan", "Kaohsiung",  "Hsinchu", "Keelung"};

Customer MakeCustomer(uint64_t i, Rng& rng) {
  static const char* kSurnames[] = {"陳", "林", "黃", "張", "李", "王", "吳", "劉", "蔡", "楊"};
  static const char* kGiven[] = {"小明", "美玲", "志豪", "淑芬", "家豪", "雅婷",
                                 "俊傑", "怡君", "冠宇", "佳穎", "建宏", "詩涵"};
  static const char* kFirst[] = {"Amy",   "Brian", "Chloe", "David", "Emma",
                                 "Frank", "Grace", "Henry", "Ivy",   "Jason"};
  static const char* kLast[] = {"Chen", "Lin", "Huang", "Chang", "Lee", "Wang", "Wu", "Liu"};
  Customer c;
  bool has_phone = rng.Chance(0.85), has_email = rng.Chance(0.40), has_id = rng.Chance(0.70);
  if (!has_phone && !has_email && !has_id) has_id = true;
  char buf[64];
  if (has_id) {
    std::snprintf(buf, sizeof buf, "C%07llu", static_cast<unsigned long long>(i + 1));
    c.id = buf;
  }
  if (has_phone) {
    // A bijection of the index onto 0..89,999,999 (7919 is prime, coprime to 9 * 10^7), so
    // phones never collide and stay in the valid mobile range 090-098.
    uint64_t k = (i * 7919 + 12345678) % 90000000;
    std::snprintf(buf, sizeof buf, "09%08llu", static_cast<unsigned long long>(k));
    c.phone = buf;
  }
  bool english = rng.Chance(0.25);
  if (english)
    c.name = std::string(kFirst[rng.Below(10)]) + " " + kLast[rng.Below(8)];
  else
    c.name = std::string(kSurnames[rng.Below(10)]) + kGiven[rng.Below(12)];
  if (has_email) {
    std::snprintf(buf, sizeof buf, "member%llu@example.com",
                  static_cast<unsigned long long>(i + 1));
    c.email = buf;
  }
  c.city = static_cast<int>(rng.Below(8));
  return c;
}

// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
void CivilFromDays(int64_t z, int& y, int& m, int& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(yy + (m <= 2));
}

class Out {
 public:
  explicit Out(FILE* f) : f_(f) { buf_.reserve(1 << 20); }
  ~Out() { Flush(); }
  void Put(std::string_view s) {
    buf_.append(s);
    if (buf_.size() > (1 << 20)) Flush();
  }
  // A CSV field: quoted when it holds a comma, a quote or a line break.
  void Field(std::string_view s) {
    if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
      buf_.append(s);
      return;
    }
    buf_.push_back('"');
    for (char c : s) {
      if (c == '"') buf_.push_back('"');
      buf_.push_back(c);
    }
    buf_.push_back('"');
  }
  void Flush() {
    if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size()) {
      std::perror("write");
      std::exit(1);
    }
    buf_.clear();
  }

 private:
  FILE* f_;
  std::string buf_;
};

int Usage() {
  std::fprintf(stderr,
               "usage: bench_gen_order_lines --lines N --out FILE|- [--seed S] [--customers C]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t lines = 0;
  uint64_t seed = 1;
  uint64_t customers = 200000;
  std::string out_path;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--lines" && (v = value()))
      lines = std::strtoll(v, nullptr, 10);
    else if (a == "--seed" && (v = value()))
      seed = std::strtoull(v, nullptr, 10);
    else if (a == "--customers" && (v = value()))
      customers = std::strtoull(v, nullptr, 10);
    else if (a == "--out" && (v = value()))
      out_path = v;
    else
      return Usage();
  }
  if (lines <= 0 || out_path.empty() || customers == 0) return Usage();
  FILE* f = out_path == "-" ? stdout : std::fopen(out_path.c_str(), "wb");
  if (!f) {
    std::perror(out_path.c_str());
    return 1;
  }
  Rng rng{seed};
  const std::vector<Product> products = Catalogue();
  std::vector<Customer> people;
  people.reserve(customers);
  for (uint64_t i = 0; i < customers; ++i) people.push_back(MakeCustomer(i, rng));

  Out out(f);
  out.Put(
      "order_id,occurred_at,sku,name,category,quantity,unit_price,line_total,customer_id,phone,"
      "email,customer_name,country,city,branch,currency\n");
  // Times: three years of shop days; orders spread evenly so they come out in time order.
  const int64_t first_day = 19358;  // 2023-01-01
  const int64_t days = 1095;
  const double avg_lines = 2.4;
  const double seconds_per_order =
      static_cast<double>(days) * 12 * 3600 / (static_cast<double>(lines) / avg_lines);
  double clock = 0;  // seconds of shop time (10:00-22:00 each day) since the first day
  // Recent purchases of known customers, for returns: (customer, product).
  std::vector<std::pair<uint32_t, uint16_t>> recent(4096, {UINT32_MAX, 0});
  size_t recent_at = 0;
  int64_t written = 0, orders = 0, returns = 0;
  char buf[160];
  while (written < lines) {
    clock += seconds_per_order * (0.5 + rng.Unit());
    int64_t shop_seconds = static_cast<int64_t>(clock);
    int64_t day = first_day + shop_seconds / (12 * 3600);
    int64_t in_day = 10 * 3600 + shop_seconds % (12 * 3600);
    int y, mo, d;
    CivilFromDays(day, y, mo, d);
    char when[32];
    std::snprintf(when, sizeof when, "%04d-%02d-%02d %02d:%02d:%02d", y, mo, d,
                  static_cast<int>(in_day / 3600), static_cast<int>(in_day / 60 % 60),
                  static_cast<int>(in_day % 60));
    ++orders;
    // A return: one line, negative quantity, of something a customer bought recently.
    auto& back = recent[rng.Below(recent.size())];
    if (rng.Chance(0.02) && back.first != UINT32_MAX) {
      const Customer& c = people[back.first];
      const Product& p = products[back.second];
      std::snprintf(buf, sizeof buf, "R%08lld", static_cast<long long>(orders));
      out.Field(buf);
      out.Put(",");
      out.Put(when);
      out.Put(",");
      out.Field(p.sku);
      out.Put(",");
      out.Field(p.name);
      out.Put(",");
      out.Field(p.category);
      std::snprintf(buf, sizeof buf, ",-1,%d,%d,", p.price, -p.price);
      out.Put(buf);
      out.Field(c.id);
      out.Put(",");
      out.Field(c.phone);
      out.Put(",");
      out.Field(c.email);
      out.Put(",");
      out.Field(c.name);
      out.Put(",TW,");
      out.Put(kCities[c.city]);
      out.Put(",,TWD\n");
      back.first = UINT32_MAX;  // returned once
      ++written;
      ++returns;
      continue;
    }
    // Regulars buy far more often: u^3 puts most orders on a small share of customers.
    bool anonymous = rng.Chance(0.15);
    double u = rng.Unit();
    uint32_t who = static_cast<uint32_t>(u * u * u * static_cast<double>(people.size()));
    const Customer* c = anonymous ? nullptr : &people[who];
    // 1-8 lines, mostly 1-3.
    static const int kLineWeights[] = {30, 28, 18, 10, 6, 4, 2, 2};  // sums to 100
    int r = static_cast<int>(rng.Below(100)), n = 1;
    for (int k = 0; k < 8; ++k) {
      if (r < kLineWeights[k]) {
        n = k + 1;
        break;
      }
      r -= kLineWeights[k];
    }
    char order_id[24];
    std::snprintf(order_id, sizeof order_id, "S%08lld", static_cast<long long>(orders));
    for (int k = 0; k < n && written < lines; ++k) {
      uint16_t pi = static_cast<uint16_t>(rng.Below(products.size()));
      const Product& p = products[pi];
      int qty = rng.Chance(0.8) ? 1 : 2 + static_cast<int>(rng.Below(3));
      out.Put(order_id);
      out.Put(",");
      out.Put(when);
      out.Put(",");
      out.Field(p.sku);
      out.Put(",");
      out.Field(p.name);
      out.Put(",");
      out.Field(p.category);
      std::snprintf(buf, sizeof buf, ",%d,%d,%d,", qty, p.price, qty * p.price);
      out.Put(buf);
      if (c) {
        out.Field(c->id);
        out.Put(",");
        out.Field(c->phone);
        out.Put(",");
        out.Field(c->email);
        out.Put(",");
        out.Field(c->name);
        out.Put(",TW,");
        out.Put(kCities[c->city]);
        out.Put(",,TWD\n");
        recent[recent_at++ % recent.size()] = {who, pi};
      } else {
        out.Put(",,,,TW,,,TWD\n");
      }
      ++written;
    }
  }
  out.Flush();
  if (f != stdout) std::fclose(f);
  std::fprintf(stderr,
               "bench_gen_order_lines: %lld lines, %lld orders (%lld returns), %llu customers\n",
               static_cast<long long>(written), static_cast<long long>(orders),
               static_cast<long long>(returns), static_cast<unsigned long long>(customers));
  return 0;
}
