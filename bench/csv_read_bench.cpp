// bench_csv_read FILE [--encoding E] [--chunk BYTES]: reads a CSV file (plain or gzip) through the
// import's streaming reader and prints records, bytes and records per second. The reader alone,
// no mapping or database: the ceiling of `regulars import orders` on that file.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "importer/csv.h"

int main(int argc, char** argv) {
  using regulars::importer::CsvOptions;
  using regulars::importer::CsvReader;
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: bench_csv_read FILE [--encoding auto|utf-8|big5|gb18030] "
                 "[--chunk BYTES]\n");
    return 2;
  }
  std::string path = argv[1];
  CsvOptions options;
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--encoding" && i + 1 < argc) {
      auto e = regulars::importer::ParseEncoding(argv[++i]);
      if (!e) {
        std::fprintf(stderr, "--encoding: unknown encoding %s\n", argv[i]);
        return 2;
      }
      options.encoding = *e;
    } else if (a == "--chunk" && i + 1 < argc) {
      options.chunk_bytes = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }

  auto start = std::chrono::steady_clock::now();
  auto reader = CsvReader::OpenFile(path, options);
  if (!reader) {
    std::fprintf(stderr, "%s\n", reader.error().message.c_str());
    return 1;
  }
  std::vector<std::string_view> fields;
  int64_t records = 0, errors = 0, field_count = 0, field_bytes = 0;
  for (;;) {
    auto r = (*reader)->Next(fields);
    if (!r) {
      ++errors;
      if (errors <= 5) {
        std::fprintf(stderr, "line %lld, column %d: %s\n", static_cast<long long>(r.error().line),
                     r.error().column, r.error().message.c_str());
      }
      if (r.error().fatal) break;
      continue;
    }
    if (!*r) break;
    ++records;
    field_count += static_cast<int64_t>(fields.size());
    for (std::string_view f : fields) field_bytes += static_cast<int64_t>(f.size());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int64_t bytes = (*reader)->bytes_consumed();
  std::printf("file      %s\n", path.c_str());
  std::printf("encoding  %s\n",
              std::string(regulars::importer::EncodingName((*reader)->encoding())).c_str());
  std::printf("lines     %lld records (%lld fields, %lld field bytes), %lld errors\n",
              static_cast<long long>(records), static_cast<long long>(field_count),
              static_cast<long long>(field_bytes), static_cast<long long>(errors));
  std::printf("bytes     %lld read\n", static_cast<long long>(bytes));
  std::printf("time      %.3f s\n", secs);
  std::printf("lines/s   %.0f\n", secs > 0 ? static_cast<double>(records) / secs : 0.0);
  std::printf("MB/s      %.1f (of input read)\n", secs > 0 ? bytes / secs / 1e6 : 0.0);
  return errors ? 1 : 0;
}
