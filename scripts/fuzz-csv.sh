#!/usr/bin/env bash
# Fuzzes the import's CSV reader for SECONDS (default 60) with libFuzzer under ASan and UBSan.
#   bash scripts/fuzz-csv.sh 300 [more libFuzzer flags, e.g. -len_control=0]
# Builds tests/fuzz/csv_fuzz.cpp with the reader straight from the sources into build-fuzz/
# (clang, not the main g++ build), seeds from tests/fuzz/corpus/csv and keeps what it learns in
# build-fuzz/corpus-csv. A crash leaves build-fuzz/crash-* and exits non-zero: fix it, then copy
# the input into tests/fuzz/corpus/csv so csv_fuzz_corpus_test replays it from then on.
#
# Needs clang-16 and its libFuzzer runtime (libclang-rt-16-dev, in scripts/install-deps.sh).
# clang-14, Debian's default, cannot compile libstdc++ 12's <expected>. libstdc++ hides
# <expected> from any clang that reports __cpp_concepts below 202002L; clang 16 implements what
# the header needs (P0848, conditionally trivial special members) but still reports 201907L, so
# the macro is raised on the command line.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
cxx=${CXX_FUZZ:-clang++-16}
out=build-fuzz
mkdir -p "$out/corpus-csv"
# build-fuzz/ is scratch: keep git from listing it even where the root .gitignore does not.
[ -f "$out/.gitignore" ] || echo '*' >"$out/.gitignore"

icu_flags=$(pkg-config --cflags --libs icu-uc)
echo "fuzz-csv: building $out/csv_fuzz with $cxx"
# shellcheck disable=SC2086
"$cxx" -std=c++2b -D__cpp_concepts=202002L -Wno-macro-redefined -O1 -g \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
  -Isrc tests/fuzz/csv_fuzz.cpp src/importer/csv.cpp -o "$out/csv_fuzz" $icu_flags -lz

echo "fuzz-csv: running for ${secs}s"
"$out/csv_fuzz" -max_total_time="$secs" -max_len=4096 -timeout=20 -rss_limit_mb=2048 \
  -dict=tests/fuzz/csv.dict -print_final_stats=1 -artifact_prefix="$out/" "$@" \
  "$out/corpus-csv" tests/fuzz/corpus/csv
