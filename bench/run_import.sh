#!/usr/bin/env bash
# Order-history import, side by side in one run: `regulars import orders` on SQLite and on a
# durable PostgreSQL, against moving the same raw CSV bytes into one table with no logic at all
# (`sqlite3 .import` and PostgreSQL `COPY`).
#
#   bench/run_import.sh [sqlite|postgres|all]        (default all)
#
# Builds nothing. Expects a Release build of the server and the generator (bench/README.md):
#   cmake -S bench -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-bench --target regulars bench_gen_order_lines -j2
# and Debian's sqlite3 and psql; PostgreSQL runs through `PG_DURABLE=1 scripts/with-postgres.sh`
# (fsync, synchronous_commit and full_page_writes on: PostgreSQL's defaults).
#
# Files: the UCI Online Retail export (RETAIL, gzip; preset online-retail, a GBP merchant) and
# LINES generated order lines (bench_gen_order_lines --seed SEED; preset generic, a TWD
# merchant). Every contender reads the same plain CSV: the gzip file is decompressed once first
# and that time is printed on its own (`regulars import` also reads gzip directly: one extra row
# on SQLite shows that).
#
# For each file, RUNS times, each into a fresh database:
#   sqlite3 .import    `sqlite3 DB ".import --csv FILE t"`: a new table of TEXT columns named by
#                      the header, one transaction (the sqlite3 shell's defaults: rollback journal,
#                      synchronous=FULL).
#   regulars SQLite    `regulars merchant create` (not timed), then `regulars import orders FILE
#                      --merchant ID --preset P --json` (timed: the whole process, start-up
#                      included), synchronous=FULL with WAL, the server's defaults.
#   COPY               `psql -c "COPY t FROM STDIN WITH (FORMAT csv, HEADER)" < FILE` into a new
#                      table of TEXT columns in a fresh database.
#   regulars PostgreSQL  the same import against a fresh database on the same server.
# Prints every run, then a markdown table of medians: seconds, lines/s, and the ratio to the
# no-logic peer of the same database. An import whose report does not account for every line
# (lines != lines of the file) marks its row INVALID and makes the script exit 1.
#
# Environment (defaults in brackets):
#   BUILD [build-bench]  REGULARS [$BUILD/regulars]  GEN [$BUILD/bench/bench_gen_order_lines]
#   RETAIL [../shared/data/online-retail/online_retail.csv.gz]  LINES [5000000]  SEED [1]
#   RUNS [3]  FILES [retail,generated]  KEEP=1 keeps the temporary folder (every report)
#   GZIP_INPUT [1]: 0 skips the extra SQLite row that imports the gzip file directly
#   PERF=1: after the measured runs, one more SQLite import of the generated file under
#           `perf record -g`; the top of `perf report` goes to the folder (kept) and stderr
#   RESULTS [unset]: also append the table rows to this file
#   IMPORT_ARGS [unset]: extra arguments for every `regulars import orders` ("--batch-orders 2000")
#   BASELINE [unset]: a second regulars binary (an earlier build) imported on SQLite right after
#           each regulars run, into its own fresh database: the row "regulars import (baseline)"
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
REGULARS=${REGULARS:-$BUILD/regulars}
GEN=${GEN:-$BUILD/bench/bench_gen_order_lines}
RETAIL=${RETAIL:-$ROOT/../shared/data/online-retail/online_retail.csv.gz}
LINES=${LINES:-5000000}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
FILES=${FILES:-retail,generated}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

die() {
  echo "run_import: $*" >&2
  exit 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }
# Median of the numbers on stdin.
median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
fmt_int() { printf '%.0f' "$1" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta'; }
# json_int KEY < JSON -> the integer value of "KEY": N.
json_int() { grep -o "\"$1\":[0-9-]*" | head -1 | cut -d: -f2; }

# result FILE WHAT DATABASE RUN SECONDS LINES NOTE -> one line in $WORK/results.
result() {
  echo "RESULT file=$1 what=$2 database=$3 run=$4 seconds=$5 lines=$6 note=${7:-ok}" | tee -a "$WORK/results" >&2
}

# The files every contender reads: NAME PATH PRESET CURRENCY REGION ZONE per line in $WORK/files.
prepare_files() {
  : >"$WORK/files"
  if [[ ",$FILES," == *,retail,* ]]; then
    [ -f "$RETAIL" ] || die "$RETAIL not found"
    local t0 t1
    t0=$(now)
    gzip -dc "$RETAIL" >"$WORK/retail.csv"
    t1=$(now)
    echo "== retail: gzip -dc $(du -h "$RETAIL" | cut -f1) -> $(du -h "$WORK/retail.csv" | cut -f1) in $(elapsed "$t0" "$t1") s (not counted below)" >&2
    echo "retail $WORK/retail.csv online-retail GBP GB Europe/London" >>"$WORK/files"
  fi
  if [[ ",$FILES," == *,generated,* ]]; then
    local t0 t1
    t0=$(now)
    "$GEN" --lines "$LINES" --seed "$SEED" --out "$WORK/generated.csv"
    t1=$(now)
    echo "== generated: $LINES lines, $(du -h "$WORK/generated.csv" | cut -f1) in $(elapsed "$t0" "$t1") s" >&2
    echo "generated $WORK/generated.csv generic TWD TW Asia/Taipei" >>"$WORK/files"
  fi
}

# data_lines FILE -> lines after the header (neither file has line breaks inside fields).
data_lines() { echo $(($(wc -l <"$1") - 1)); }

# regulars_import NAME PATH PRESET CURRENCY REGION ZONE DBFLAG... : creates a merchant, imports,
# prints "SECONDS REPORTED_LINES" (the report goes to $WORK/last.json).
regulars_import() {
  local path=$2 preset=$3 currency=$4 region=$5 zone=$6
  shift 6
  local merchant t0 t1
  local bin=${BIN:-$REGULARS}
  merchant=$(echo "bench-password" | "$bin" merchant create "$@" --name "Import bench" \
    --currency "$currency" --region "$region" --timezone "$zone" --owner-email owner@bench.test \
    --json | json_str merchant_id)
  [ -n "$merchant" ] || die "merchant create failed"
  t0=$(now)
  # shellcheck disable=SC2086 # IMPORT_ARGS is a list of words
  "$bin" import orders "$path" "$@" --merchant "$merchant" --preset "$preset" --json ${IMPORT_ARGS:-} \
    >"$WORK/last.json" 2>"$WORK/last.err" || {
    cat "$WORK/last.err" >&2
    die "regulars import orders failed"
  }
  t1=$(now)
  echo "$(elapsed "$t0" "$t1") $(json_int lines <"$WORK/last.json")"
}
json_str() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }

bench_sqlite() {
  local name path preset currency region zone lines run
  while read -r name path preset currency region zone; do
    lines=$(data_lines "$path")
    for run in $(seq 1 "$RUNS"); do
      rm -f "$WORK/peer.db"
      local t0 t1
      t0=$(now)
      sqlite3 "$WORK/peer.db" ".import --csv $path t"
      t1=$(now)
      local got
      got=$(sqlite3 "$WORK/peer.db" "SELECT COUNT(*) FROM t")
      result "$name" "sqlite3 .import" SQLite "$run" "$(elapsed "$t0" "$t1")" "$got" \
        "$([ "$got" = "$lines" ] && echo ok || echo INVALID)"
      rm -f "$WORK/peer.db"

      rm -rf "$WORK/sq"
      regulars_import "$name" "$path" "$preset" "$currency" "$region" "$zone" \
        --data "$WORK/sq" >"$WORK/last.out"
      read -r secs got <"$WORK/last.out"
      cp "$WORK/last.json" "$WORK/$name.sqlite.$run.json"
      result "$name" "regulars import" SQLite "$run" "$secs" "$got" \
        "$([ "$got" = "$lines" ] && echo ok || echo INVALID)"
      if [ -n "${BASELINE:-}" ]; then
        rm -rf "$WORK/sq"
        BIN=$BASELINE regulars_import "$name" "$path" "$preset" "$currency" "$region" "$zone" \
          --data "$WORK/sq" >"$WORK/last.out"
        read -r secs got <"$WORK/last.out"
        cp "$WORK/last.json" "$WORK/$name.sqlite.baseline.$run.json"
        result "$name" "regulars import (baseline)" SQLite "$run" "$secs" "$got" \
          "$([ "$got" = "$lines" ] && echo ok || echo INVALID)"
      fi
      if [ "$name" = retail ] && [ "${GZIP_INPUT:-1}" = 1 ]; then
        rm -rf "$WORK/sq"
        regulars_import "$name" "$RETAIL" "$preset" "$currency" "$region" \
          "$zone" --data "$WORK/sq" >"$WORK/last.out"
      read -r secs got <"$WORK/last.out"
        result "$name" "regulars import (gzip input)" SQLite "$run" "$secs" "$got" \
          "$([ "$got" = "$lines" ] && echo ok || echo INVALID)"
      fi
    done
    echo "== $name on SQLite: $(grep -o '"orders_created":[0-9]*\|"members_created":[0-9]*\|"lines_rejected":[0-9]*\|"refunds":[0-9]*\|"standalone_returns":[0-9]*' "$WORK/last.json" | tr '\n' ' ')" >&2
    rm -rf "$WORK/sq"
  done <"$WORK/files"
  if [ "${PERF:-0}" = 1 ] && grep -q '^generated ' "$WORK/files"; then
    read -r name path preset currency region zone < <(grep '^generated ' "$WORK/files")
    rm -rf "$WORK/sq"
    local merchant
    merchant=$(echo "bench-password" | "$REGULARS" merchant create --data "$WORK/sq" \
      --name "Import bench" --owner-email owner@bench.test --json | json_str merchant_id)
    perf record -g -o "$WORK/perf.data" -- "$REGULARS" import orders "$path" --data "$WORK/sq" \
      --merchant "$merchant" --preset "$preset" --json >/dev/null 2>&1
    perf report -i "$WORK/perf.data" --stdio --no-children --percent-limit 1 2>/dev/null |
      grep -v '^$' | head -80 | tee "$WORK/perf.txt" >&2
    rm -rf "$WORK/sq"
  fi
}

bench_postgres() {
  local url=$1 base=${1%/*}
  local pg_sql=("$PG_BIN/psql" -qAt -v ON_ERROR_STOP=1)
  echo "== postgresql: $("${pg_sql[@]}" "$url" -c "SELECT string_agg(name || '=' || setting, ' ') FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'server_version')")" >&2
  [ "$("${pg_sql[@]}" "$url" -c "SHOW fsync")" = on ] ||
    die "PostgreSQL is not durable; run through PG_DURABLE=1 scripts/with-postgres.sh"
  local name path preset currency region zone lines run n=0
  while read -r name path preset currency region zone; do
    lines=$(data_lines "$path")
    local columns
    columns=$(head -1 "$path" | tr -d '\r' | tr ',' '\n' | sed 's/.*/"&" text/' | paste -sd, -)
    for run in $(seq 1 "$RUNS"); do
      n=$((n + 1))
      "${pg_sql[@]}" "$url" -c "CREATE DATABASE copy_$n" >/dev/null
      "${pg_sql[@]}" "$base/copy_$n" -c "CREATE TABLE t ($columns)" >/dev/null
      local t0 t1 got
      t0=$(now)
      "${pg_sql[@]}" "$base/copy_$n" -c "COPY t FROM STDIN WITH (FORMAT csv, HEADER)" <"$path" >/dev/null
      t1=$(now)
      got=$("${pg_sql[@]}" "$base/copy_$n" -c "SELECT COUNT(*) FROM t")
      result "$name" "COPY" PostgreSQL "$run" "$(elapsed "$t0" "$t1")" "$got" \
        "$([ "$got" = "$lines" ] && echo ok || echo INVALID)"
      "${pg_sql[@]}" "$url" -c "DROP DATABASE copy_$n" >/dev/null

      "${pg_sql[@]}" "$url" -c "CREATE DATABASE import_$n" >/dev/null
      regulars_import "$name" "$path" "$preset" "$currency" "$region" "$zone" \
        --database "$base/import_$n" >"$WORK/last.out"
      read -r secs got <"$WORK/last.out"
      cp "$WORK/last.json" "$WORK/$name.postgresql.$run.json"
      result "$name" "regulars import" PostgreSQL "$run" "$secs" "$got" \
        "$([ "$got" = "$lines" ] && echo ok || echo INVALID)"
      "${pg_sql[@]}" "$url" -c "DROP DATABASE import_$n" >/dev/null
    done
  done <"$WORK/files"
}

# Inside scripts/with-postgres.sh: REGULARS_TEST_PG is set.
if [ "${1:-}" = --inner-postgres ]; then
  WORK=$2
  bench_postgres "$REGULARS_TEST_PG"
  exit 0
fi

which=${1:-all}
case "$which" in sqlite | postgres | all) ;; *) die "usage: $0 [sqlite|postgres|all]" ;; esac
[ -x "$REGULARS" ] || die "$REGULARS not found; cmake --build build-bench --target regulars"
[ -x "$GEN" ] || die "$GEN not found; cmake --build build-bench --target bench_gen_order_lines"
command -v sqlite3 >/dev/null || [ "$which" = postgres ] || die "sqlite3 not found (apt-get install sqlite3)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/regulars-import.XXXXXX")
export WORK
: >"$WORK/results"
if [ "${KEEP:-0}" = 1 ] || [ "${PERF:-0}" = 1 ]; then
  echo "== results kept in $WORK" >&2
else
  trap 'rm -rf "$WORK"' EXIT
fi
echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg); $(sqlite3 --version | cut -d' ' -f1-2)" >&2
started=$(date +%s)
prepare_files
if [ "$which" != postgres ]; then bench_sqlite; fi
if [ "$which" != sqlite ]; then
  PG_DURABLE=1 "$ROOT/scripts/with-postgres.sh" "$0" --inner-postgres "$WORK"
fi
echo "== load average at the end $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# The table: medians per (file, what, database), and the ratio to that database's no-logic peer.
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }
echo
echo "Medians of $RUNS runs; $(($(date +%s) - started)) s in all. Ratio: regulars' time over the no-logic peer's on the same database."
echo
echo "| file | lines | what | database | median s | lines/s | x peer | notes |"
echo "| --- | ---: | --- | --- | ---: | ---: | ---: | --- |"
invalid=0
while read -r name _; do
  for db in SQLite PostgreSQL; do
    peer=$([ "$db" = SQLite ] && echo "sqlite3 .import" || echo "COPY")
    peer_s=$(grep "file=$name what=$peer database=$db " "$WORK/results" | field seconds | median || true)
    for what in "$peer" "regulars import" "regulars import (baseline)" "regulars import (gzip input)"; do
      rows=$(grep "file=$name what=$what database=$db " "$WORK/results" || true)
      [ -n "$rows" ] || continue
      s=$(echo "$rows" | field seconds | median)
      lines=$(echo "$rows" | field lines | head -1)
      notes=$(echo "$rows" | field note | sort -u | paste -sd, -)
      [[ $notes == *INVALID* ]] && invalid=1
      ratio=$(awk -v a="$s" -v b="$peer_s" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}')
      row="| $name | $(fmt_int "$lines") | $what | $db | $s | $(fmt_int "$(awk -v l="$lines" -v s="$s" 'BEGIN {print l / s}')") | $ratio | $notes |"
      echo "$row"
      if [ -n "${RESULTS:-}" ]; then echo "$row" >>"$RESULTS"; fi
    done
  done
done <"$WORK/files"
if ((invalid)); then
  echo "run_import: some imports did not account for every line; those rows are invalid" >&2
  exit 1
fi
