#!/usr/bin/env bash
# The insight benchmark: one five-predicate segment on MEMBERS members / ORDERS orders, Regulars'
# in-memory feature store against SQLite, PostgreSQL and DuckDB, side by side in one run.
#
#   bench/run_insight.sh                              # 1M members, 10M orders, 5 runs
#   MEMBERS=100000 ORDERS=1000000 RUNS=3 bench/run_insight.sh
#
# Builds nothing. Expects the bench targets (flock /tmp/regulars-build.lock ninja -C build -j2
# bench_gen_insight bench_insight bench_clv_fit), node and npm (it runs `npm install` in
# bench/duckdb for @duckdb/node-api), and Debian's postgresql-15 (scripts/with-postgres.sh).
#
# Steps (all in a temporary folder):
#   1. bench_gen_insight into a SQLite file, with the CSV copies for DuckDB (timed);
#   2. Regulars: bench_insight regulars on that file: FeatureStore::Build, MemoryBytes, VmRSS,
#      the segment RUNS times, ApplyOrder x APPLY, BG/NBD on the store's buyers;
#   3. SQLite: the DBA's indexes (bench/insight_peer_indexes.sql) + ANALYZE, then every query
#      (bench/insight_segment.sql, bench/insight_segment_lookup.sql, and CompileSegmentSql's)
#      RUNS times through the sqlite3 C API;
#   4. DuckDB: the CSV files loaded into a DuckDB file (timed), the same queries RUNS times;
#   5. PostgreSQL (throwaway server, scripts/with-postgres.sh): bench_gen_insight into it (timed),
#      VACUUM ANALYZE, the indexes, the same queries RUNS times through libpq;
#   6. bench_clv_fit: the BG/NBD fit on 1M customers drawn from the model.
# Then a markdown table of the medians. Every engine must count the same members; a mismatch
# marks the run INVALID and the script exits 1.
#
# Environment (defaults in brackets):
#   BUILD [build]  MEMBERS [1000000]  ORDERS [10000000]  RUNS [5]  APPLY [100000]
#   ENGINES [regulars,sqlite,duckdb,postgresql]  KEEP=1 keeps the temporary folder
#   PG_TIMEOUT [120]: PostgreSQL's statement_timeout per query, in seconds; a query cancelled
#     by it is shown as "> N s" and not run again (PostgreSQL sessions also get work_mem 256MB)
#   RESULTS [unset]: also append the table to this file
#   DATA [unset]: a folder holding insight.db, csv/ and sqlite.gen.json of an earlier run with
#     the same MEMBERS / ORDERS (e.g. one kept with KEEP=1, or bench_gen_insight --database
#     sqlite:$DATA/insight.db --csv-dir $DATA/csv > $DATA/sqlite.gen.json): step 1 is skipped
#     and those files are used (and kept). The SQLite peer's indexes are created in that file
#     the first time (later runs find them and report index_s for the IF NOT EXISTS no-op).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
GEN=${GEN:-$BUILD/bench/bench_gen_insight}
BENCH=${BENCH:-$BUILD/bench/bench_insight}
CLV=${CLV:-$BUILD/bench/bench_clv_fit}
MEMBERS=${MEMBERS:-1000000}
ORDERS=${ORDERS:-10000000}
RUNS=${RUNS:-5}
APPLY=${APPLY:-100000}
ENGINES=${ENGINES:-regulars,sqlite,duckdb,postgresql}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_TIMEOUT=${PG_TIMEOUT:-120}
NOW=2026-12-01T00:00:00Z
NOW_MICROS=1796083200000000
SEGMENT="$ROOT/bench/insight_segment.json"
QUERIES=("$ROOT/bench/insight_segment.sql" "$ROOT/bench/insight_segment_lookup.sql")
INDEXES="$ROOT/bench/insight_peer_indexes.sql"

die() {
  echo "run_insight: $*" >&2
  exit 1
}
has() { [[ ",$ENGINES," == *",$1,"* ]]; }
for bin in "$GEN" "$BENCH"; do [ -x "$bin" ] || die "$bin not built"; done

work=$(mktemp -d "${TMPDIR:-/tmp}/regulars-insight.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
  echo "run_insight: keeping $work" >&2
else
  trap 'rm -rf "$work"' EXIT
fi

# field NAME < RESULT lines -> the values of NAME, one a line.
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
# result FILE STEP [VARIANT] -> that RESULT line.
result() {
  if [ $# -ge 3 ]; then
    grep "^RESULT .* step=$2 variant=$3 " "$1" | head -n1
  else
    grep "^RESULT .* step=$2 " "$1" | head -n1
  fi
}

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "== code: $(git -C "$ROOT" rev-parse --short HEAD) $(git -C "$ROOT" status --porcelain | grep -q . && echo '(tree has uncommitted changes)')" >&2

# ---- 1. generate into SQLite (+ CSV) ----
db="$work/insight.db"
csv_dir="$work/csv"
gen_sqlite_s= db_size= merchant=
if [ -n "${DATA:-}" ] && (has regulars || has sqlite || has duckdb); then
  for f in "$DATA/insight.db" "$DATA/sqlite.gen.json" "$DATA/csv"; do
    [ -e "$f" ] || die "DATA=$DATA has no $f"
  done
  db="$DATA/insight.db"
  csv_dir="$DATA/csv"
  cp "$DATA/sqlite.gen.json" "$work/sqlite.gen.json"
  grep -q "\"members\":$MEMBERS," "$work/sqlite.gen.json" ||
    die "DATA=$DATA was not generated with MEMBERS=$MEMBERS ($(cat "$work/sqlite.gen.json"))"
  merchant=$(grep -o '"merchant_id":"[^"]*"' "$work/sqlite.gen.json" | cut -d'"' -f4)
  db_size=$(du -sh "$db" | cut -f1)
  gen_sqlite_s=reused
  echo "== reusing $DATA: SQLite file $db_size, merchant $merchant" >&2
elif has regulars || has sqlite || has duckdb; then
echo "== generating $MEMBERS members, $ORDERS orders into SQLite (+ CSV for DuckDB)" >&2
t0=$(date +%s.%N)
"$GEN" --database "sqlite:$db" --members "$MEMBERS" --orders "$ORDERS" --csv-dir "$csv_dir" \
  --now "$NOW" >"$work/sqlite.gen.json"
gen_sqlite_s=$(echo "$(date +%s.%N) - $t0" | bc | xargs printf "%.1f")
cat "$work/sqlite.gen.json" >&2
merchant=$(grep -o '"merchant_id":"[^"]*"' "$work/sqlite.gen.json" | cut -d'"' -f4)
db_size=$(du -sh "$db" | cut -f1)
csv_size=$(du -sh "$csv_dir" | cut -f1)
echo "== SQLite file $db_size, CSV $csv_size, generated in ${gen_sqlite_s} s" >&2
fi

# ---- 2. Regulars ----
if has regulars; then
  echo "== regulars: feature store, segment x $RUNS, ApplyOrder x $APPLY, BG/NBD" >&2
  "$BENCH" regulars --database "sqlite:$db" --segment "$SEGMENT" --runs "$RUNS" --apply "$APPLY" \
    --now "$NOW" | tee "$work/regulars.out"
fi

# ---- 3. SQLite ----
if has sqlite; then
  echo "== sqlite: indexes, then the queries x $RUNS" >&2
  sqlite_indexes=$INDEXES
  if [ -n "${DATA:-}" ]; then  # the reused file may have them from an earlier run
    sqlite_indexes="$work/indexes.sql"
    sed 's/CREATE INDEX /CREATE INDEX IF NOT EXISTS /' "$INDEXES" >"$sqlite_indexes"
  fi
  "$BENCH" sql --database "sqlite:$db" --sql "${QUERIES[@]}" --setup "$sqlite_indexes" \
    --segment "$SEGMENT" --compiled-out "$work/compiled.sqlite.sql" --runs "$RUNS" --now "$NOW" |
    tee "$work/sqlite.out"
fi

# ---- 4. DuckDB ----
if has duckdb; then
  echo "== duckdb: npm install, load the CSV files, the queries x $RUNS" >&2
  (cd "$ROOT/bench/duckdb" && npm install --no-audit --no-fund --loglevel=error >&2)
  compiled=()
  if [ -s "$work/compiled.sqlite.sql" ]; then compiled=(--compiled "$work/compiled.sqlite.sql"); fi
  node "$ROOT/bench/insight_duckdb.mjs" --csv-dir "$csv_dir" --db "$work/insight.duckdb" \
    --merchant-id "$merchant" --now-micros "$NOW_MICROS" --runs "$RUNS" \
    --sql "$(IFS=,; echo "${QUERIES[*]}")" "${compiled[@]}" | tee "$work/duckdb.out"
  duckdb_size=$(du -sh "$work/insight.duckdb" | cut -f1)
fi
# The DuckDB and SQLite peers are done with the files: free the disk for PostgreSQL (files
# reused from DATA are kept).
rm -rf "$work/csv"

# ---- 5. PostgreSQL ----
if has postgresql; then
  echo "== postgresql: generate, VACUUM ANALYZE, indexes, the queries x $RUNS" >&2
  export GEN BENCH MEMBERS ORDERS RUNS NOW SEGMENT INDEXES PG_BIN PG_TIMEOUT work
  export QUERIES_LIST="${QUERIES[*]}"
  bash "$ROOT/scripts/with-postgres.sh" bash -c '
    set -euo pipefail
    t0=$(date +%s.%N)
    "$GEN" --database "$REGULARS_TEST_PG" --members "$MEMBERS" --orders "$ORDERS" --now "$NOW" \
      >"$work/postgresql.gen.json"
    echo "gen_s=$(echo "$(date +%s.%N) - $t0" | bc | xargs printf "%.1f")" >"$work/postgresql.gen.time"
    cat "$work/postgresql.gen.json" >&2
    "$PG_BIN/psql" "$REGULARS_TEST_PG" -qAt -v ON_ERROR_STOP=1 -c "VACUUM ANALYZE" >&2
    # shellcheck disable=SC2086
    "$BENCH" sql --database "$REGULARS_TEST_PG" --sql $QUERIES_LIST --setup "$INDEXES" \
      --segment "$SEGMENT" --runs "$RUNS" --now "$NOW" --pg-timeout-s "$PG_TIMEOUT" |
      tee "$work/postgresql.out"
    "$PG_BIN/psql" "$REGULARS_TEST_PG" -qAt -c \
      "SELECT pg_size_pretty(pg_database_size(current_database()))" >"$work/postgresql.size"
    "$PG_BIN/psql" "$REGULARS_TEST_PG" -qAt -c "SHOW server_version" >"$work/postgresql.version"
  '
fi

# ---- 6. BG/NBD on 1M model customers ----
if has regulars && [ -x "$CLV" ]; then
  echo "== bench_clv_fit 1000000" >&2
  "$CLV" 1000000 | tee "$work/clv.out" >&2 || true
fi

# ---- the table ----
invalid=0
expected=
check_count() {  # ENGINE COUNT
  [ -n "$2" ] || return 0
  if [ -z "$expected" ]; then
    expected=$2
  elif [ "$2" != "$expected" ]; then
    echo "run_insight: $1 counted $2 members, expected $expected: INVALID" >&2
    invalid=1
  fi
}
table="$work/table.md"
{
  echo "| engine | segment, median of $RUNS | count | best query | vs Regulars | other figures |"
  echo "| --- | ---: | ---: | --- | ---: | --- |"
} >"$table"

reg_ms=
if has regulars; then
  seg=$(result "$work/regulars.out" segment)
  reg_ms=$(echo "$seg" | field median_ms)
  reg_count=$(echo "$seg" | field count)
  check_count regulars "$reg_count"
  b=$(result "$work/regulars.out" build)
  a=$(result "$work/regulars.out" apply)
  f=$(result "$work/regulars.out" bgnbd)
  scores=
  sc=$(result "$work/regulars.out" scores || true)
  if [ -n "$sc" ]; then scores="; scores.h FitModels (BG/NBD + Gamma-Gamma) on $(echo "$sc" | field buyers) buyers $(echo "$sc" | field fit_s) s"; fi
  printf '| Regulars (feature store) | %s ms | %s | EvaluateSegment | 1× | build %s s, MemoryBytes %s MB, VmRSS %s MB (peak %s MB, %s MB after malloc_trim); ApplyOrder %s µs/order; BG/NBD on %s buyers %s s%s |\n' \
    "$reg_ms" "$reg_count" "$(echo "$b" | field build_s)" \
    "$(echo "$b" | field memory_bytes | awk '{printf "%.0f", $1 / 1e6}')" \
    "$(echo "$b" | field rss_kb | awk '{printf "%.0f", $1 / 1e3}')" \
    "$(echo "$b" | field hwm_kb | awk '{printf "%.0f", $1 / 1e3}')" \
    "$(echo "$b" | field rss_trimmed_kb | awk '{printf "%.0f", $1 / 1e3}')" \
    "$(echo "$a" | field us_per_order)" "$(echo "$f" | field customers)" \
    "$(echo "$f" | field median_s)" "$scores" >>"$table"
fi

fastest_peer_ms=
fastest_peer=
peer_row() {  # ENGINE LABEL OTHER
  local out="$work/$1.out" best_ms= best_variant= line ms v c
  [ -s "$out" ] || return 0
  while read -r line; do
    [[ "$line" == *timed_out_s=* ]] && continue
    ms=$(echo "$line" | field median_ms)
    v=$(echo "$line" | field variant)
    c=$(echo "$line" | field count)
    check_count "$1 $v" "$c"
    if [ -z "$best_ms" ] || awk -v a="$ms" -v b="$best_ms" 'BEGIN {exit !(a < b)}'; then
      best_ms=$ms
      best_variant=$v
    fi
  done < <(grep '^RESULT .* step=segment ' "$out")
  [ -n "$best_ms" ] || return 0
  local ratio="-"
  if [ -n "$reg_ms" ]; then ratio=$(awk -v a="$best_ms" -v b="$reg_ms" 'BEGIN {printf "%.0f×", a / b}'); fi
  local all
  all=$(grep '^RESULT .* step=segment ' "$out" | while read -r line; do
    if [[ "$line" == *timed_out_s=* ]]; then
      printf '%s > %s s (cancelled); ' "$(echo "$line" | field variant)" "$(echo "$line" | field timed_out_s)"
    else
      printf '%s %s ms; ' "$(echo "$line" | field variant)" "$(echo "$line" | field median_ms)"
    fi
  done)
  printf '| %s | %s ms | %s | %s | %s | %s%s |\n' "$2" "$best_ms" "$c" "$best_variant" "$ratio" \
    "$all" "$3" >>"$table"
  if [ -z "$fastest_peer_ms" ] || awk -v a="$best_ms" -v b="$fastest_peer_ms" 'BEGIN {exit !(a < b)}'; then
    fastest_peer_ms=$best_ms
    fastest_peer=$2
  fi
}
if has sqlite; then
  s=$(result "$work/sqlite.out" setup)
  peer_row sqlite "SQLite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1) (C API)" \
    "file $db_size; indexes $(echo "$s" | field index_s) s; $([ "$gen_sqlite_s" = reused ] && echo "data reused from $DATA" || echo "generated in $gen_sqlite_s s")"
fi
if has duckdb; then
  l=$(result "$work/duckdb.out" load)
  peer_row duckdb "DuckDB $(echo "$l" | field version) (node)" \
    "loading the CSV $(echo "$l" | field load_s) s; file $duckdb_size"
fi
if has postgresql; then
  s=$(result "$work/postgresql.out" setup)
  peer_row postgresql "PostgreSQL $(cat "$work/postgresql.version" 2>/dev/null) (libpq)" \
    "database $(cat "$work/postgresql.size" 2>/dev/null); indexes $(echo "$s" | field index_s) s; generated in $(sed -n 's/^gen_s=//p' "$work/postgresql.gen.time") s"
fi

echo
echo "MEMBERS=$MEMBERS ORDERS=$ORDERS RUNS=$RUNS APPLY=$APPLY"
cat "$table"
if [ -n "$reg_ms" ] && [ -n "$fastest_peer_ms" ]; then
  echo
  awk -v a="$fastest_peer_ms" -v b="$reg_ms" -v p="$fastest_peer" \
    'BEGIN {printf "Regulars vs the fastest peer (%s): %.1f× (target >= 20×)\n", p, a / b}'
fi
if [ -s "$work/clv.out" ]; then
  grep "BG/NBD fit" "$work/clv.out" || true
fi
if [ -n "${RESULTS:-}" ]; then cat "$table" >>"$RESULTS"; fi
if ((invalid)); then
  echo "INVALID: the engines counted different members" >&2
  exit 1
fi
