#!/usr/bin/env bash
# Durable orders with earning over HTTP, on SQLite and PostgreSQL, side by side in one run, with
# a plain SQLite write loop and pgbench's TPC-B-like run on the same PostgreSQL for reference.
#
#   bench/run_orders.sh [sqlite|postgres|all]        (default all)
#
# Builds nothing. Expects a Release build of the server, the generator and the loop:
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
#   cmake --build build --target regulars bench_gen_members bench_sqlite_loop -j2
# and Debian's wrk and pgbench; PostgreSQL runs through `PG_DURABLE=1 scripts/with-postgres.sh`
# (fsync, synchronous_commit and full_page_writes on: PostgreSQL's defaults).
#
# For each database: generate MEMBERS members (bench_gen_members), start `regulars serve` on
# 127.0.0.1 (defaults: SQLite synchronous=FULL with group commit; PostgreSQL pool of 8), create
# the point type "points" and the earning rule "1 point per 100" through the API, check that one
# order earns, warm up, then run wrk RUNS times with 32 connections (-t2 -c32) for DURATION with
# --latency and bench/orders.lua (POST /api/v1/orders by phone, 1-3 items, a fresh
# Idempotency-Key and external_id per request). Then:
#   SQLite:     bench_sqlite_loop on the same database file (the same row writes in a plain loop:
#               1 order per transaction, 32 per transaction, 32 with a savepoint each, and 32 with
#               a savepoint each and WAL checkpoints on a second thread), after the server has
#               stopped.
#   PostgreSQL: one order with log_statement=all, to count the statements an order runs; then,
#               with the server stopped, pgbench -i -s PGBENCH_SCALE in a second database of the
#               same PostgreSQL server and RUNS runs of pgbench -c 32 -j 2 -T PGBENCH_SECONDS
#               (TPC-B-like), latencies from its per-transaction log.
# Prints every run, then a markdown table of the medians, with the server's resident memory
# (VmRSS / VmHWM) after the runs and its CPU time per request. A wrk run with any non-2xx answer
# or socket error (wrk's 2 s timeout counts), or a pgbench run with failed transactions, marks
# its row INVALID and makes the script exit 1.
#
# Environment (defaults in brackets):
#   BUILD [build]  REGULARS [$BUILD/regulars]  GEN [$BUILD/bench/bench_gen_members]
#   LOOP [$BUILD/bench/bench_sqlite_loop]  MEMBERS [100000]  RUNS [3]  DURATION [10s]
#   WARMUP [5s]  LOOP_SECONDS [5]  LOOP_VARIANTS [1,32,32s]  PGBENCH_SCALE [10]
#   LOOP_CHECKPOINT_THREAD [32s]: variants run again with --checkpoint-thread 100 (empty: none)
#   PGBENCH_SECONDS [10]  KEEP=1 keeps the temporary folder (every output, server logs)
#   PERF=1: after the measured runs, one more wrk run with `perf record -g` on the server; the
#           top of `perf report` goes to the folder (kept) and stderr; PERF_RECORD [-g] holds
#           perf record's options (e.g. "--call-graph dwarf -F 999" for call graphs without
#           frame pointers), and the profile stays in the folder as sqlite.perf.data
#   RESULTS [unset]: also append the table rows to this file
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
REGULARS=${REGULARS:-$BUILD/regulars}
GEN=${GEN:-$BUILD/bench/bench_gen_members}
LOOP=${LOOP:-$BUILD/bench/bench_sqlite_loop}
MEMBERS=${MEMBERS:-100000}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-5s}
LOOP_SECONDS=${LOOP_SECONDS:-5}
LOOP_VARIANTS=${LOOP_VARIANTS:-1,32,32s}
LOOP_CHECKPOINT_THREAD=${LOOP_CHECKPOINT_THREAD-32s}
PGBENCH_SCALE=${PGBENCH_SCALE:-10}
PGBENCH_SECONDS=${PGBENCH_SECONDS:-10}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
LUA="$ROOT/bench/orders.lua"
export BENCH_MEMBERS=$MEMBERS

die() {
  echo "run_orders: $*" >&2
  exit 1
}

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Median of the numbers on stdin.
median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# field NAME < "RESULT a=1 b=2" lines -> the values of NAME, one a line.
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

# Server CPU time (user + system) in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Per-thread CPU ticks of a process: "TID TICKS" lines.
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    echo "${t##*/} $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0)"
  done
}

# row WHAT DATABASE CLIENTS PER_S P50_MS P99_MS CPU RSS NOTES -> a table row in $WORK/table.
row() {
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$@" >>"$WORK/table"
}

fmt_int() { printf '%.0f' "$1" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta'; }
ms() { awk -v v="$1" 'BEGIN {printf "%.2f", v / 1000}'; }

# api METHOD PATH JSON [HEADER] -> body on stdout; dies on a non-2xx answer.
api() {
  local out status extra=()
  [ -n "${4:-}" ] && extra=(-H "$4")
  out=$(curl -s -w '\n%{http_code}' -X "$1" "$BASE$2" -H "Authorization: Bearer $REGULARS_KEY" \
    -H 'Content-Type: application/json' "${extra[@]}" -d "$3")
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  [[ $status == 2* ]] || die "$1 $2 answered $status: $out"
  echo "$out"
}

# pg_sql URL SQL -> psql -qAt output.
pg_sql() { "$PG_BIN/psql" "$1" -qAt -v ON_ERROR_STOP=1 -c "$2"; }

# bench_backend NAME URL WORKDIR: generate, serve, measure; appends table rows.
bench_backend() {
  local name=$1 url=$2 work=$3
  local label=SQLite
  [ "$name" = postgresql ] && label=PostgreSQL
  echo "== $name: generating $MEMBERS members" >&2
  "$GEN" --database "$url" --members "$MEMBERS" >"$work/$name.gen.json"
  local key
  key=$(grep -o '"api_key":"[^"]*"' "$work/$name.gen.json" | cut -d'"' -f4)
  [ -n "$key" ] || die "no api_key in $work/$name.gen.json"
  export REGULARS_KEY=$key
  cat "$work/$name.gen.json" >&2
  if [ "$name" = postgresql ]; then
    pg_sql "$url" "VACUUM ANALYZE" >&2
    echo "== $name: $(pg_sql "$url" "SELECT string_agg(name || '=' || setting, ' ') FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers', 'commit_delay', 'server_version')")" >&2
    [ "$(pg_sql "$url" "SHOW fsync")" = on ] && [ "$(pg_sql "$url" "SHOW synchronous_commit")" = on ] ||
      die "PostgreSQL is not durable (fsync/synchronous_commit off); run through PG_DURABLE=1 scripts/with-postgres.sh"
  fi

  local port pid
  port=$(free_port)
  "$REGULARS" serve --database "$url" --listen "127.0.0.1:$port" >"$work/$name.server.log" 2>&1 &
  pid=$!
  SERVER_PID=$pid
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/$name.server.log" >&2; die "server exited"; }
    sleep 0.1
  done
  BASE="http://127.0.0.1:$port"
  if [ "$name" = sqlite ]; then
    echo "== $name: journal_mode=$(sqlite3 "${url#sqlite:}" 'PRAGMA journal_mode' 2>/dev/null || echo '?') (the server sets synchronous=FULL on its connections by default)" >&2
  fi

  # The loyalty programme: one point type, one earning rule.
  api POST /api/v1/point-types '{"code":"points","name":"Points"}' >/dev/null
  api POST /api/v1/earning-rules '{"point_type":"points","name":"1 point per 100","definition":{"kind":"per_amount","points":1,"per_amount_minor":100}}' >/dev/null
  local check
  check=$(api POST /api/v1/orders '{"external_id":"check-1","phone":"0911234567","total_minor":1000,"items":[{"sku":"SKU-1","name":"Item 1","quantity":2,"unit_price_minor":500}]}')
  echo "== $name: a check order answered: $check" >&2
  [[ $check == *'"points":10'* ]] || die "$name: the check order did not earn 10 points"

  echo "== $name: server pid $pid at $BASE; load average $(cut -d' ' -f1-3 /proc/loadavg); warming up for $WARMUP" >&2
  wrk -t2 -c32 -d"$WARMUP" --latency -s "$LUA" "$BASE" >"$work/$name.warmup.txt"
  grep -q 'non2xx=0 socket_errors=0' "$work/$name.warmup.txt" ||
    echo "run_orders: $name: errors during warm-up: $(grep RESULT "$work/$name.warmup.txt")" >&2

  local runs="$work/$name.runs" cpu0 cpu1 reqs wal0="" wal1="" waits="$work/$name.waits"
  : >"$runs"
  : >"$waits"
  if [ "$name" = postgresql ]; then
    wal0=$(pg_sql "$url" "SELECT wal_sync || ' ' || wal_write || ' ' || wal_bytes FROM pg_stat_wal")
  fi
  cpu0=$(cpu_ticks "$pid")
  thread_ticks "$pid" >"$work/$name.threads0"
  local io0 t0
  io0=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io")
  t0=$(date +%s.%N)
  for r in $(seq 1 "$RUNS"); do
    local cmd=(wrk -t2 -c32 "-d$DURATION" --latency -s "$LUA" "$BASE")
    [ "$r" = 1 ] && echo "== $name: REGULARS_KEY=... BENCH_MEMBERS=$MEMBERS ${cmd[*]}" >&2
    "${cmd[@]}" >"$work/$name.run$r.txt" &
    local wrk_pid=$!
    if [ "$r" = 1 ] && [ "$name" = sqlite ] && command -v perf >/dev/null; then
      # The server's fsync/fdatasync calls during 5 s of the first run.
      sleep 2
      perf stat -x, -e 'syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync' -p "$pid" \
        -o "$work/$name.syncs" -- sleep 5 >/dev/null 2>&1 || true
    fi
    if [ "$name" = postgresql ] && [ "$r" = 1 ]; then
      # What the PostgreSQL backends wait for, sampled 20 times during the first run.
      sleep 2
      for _ in $(seq 1 20); do
        pg_sql "$url" "SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, '-') || CASE WHEN wait_event_type = 'Lock' THEN ' in \"' || left(regexp_replace(translate(query, ',', ' '), '\s+', ' ', 'g'), 44) || '…\"' ELSE '' END FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'" >>"$waits" || true
        sleep 0.25
      done
    fi
    wait "$wrk_pid"
    local line
    line=$(grep '^RESULT' "$work/$name.run$r.txt") || die "no RESULT line in $work/$name.run$r.txt"
    echo "$name run $r: ${line#RESULT }" >&2
    [[ $line == *"non2xx=0 socket_errors=0"* ]] ||
      echo "run_orders: $name run $r had errors; its row is marked invalid" >&2
    echo "$line" >>"$runs"
  done
  cpu1=$(cpu_ticks "$pid")
  local t1 io1
  t1=$(date +%s.%N)
  io1=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io")
  thread_ticks "$pid" >"$work/$name.threads1"
  reqs=$(field requests <"$runs" | awk '{s += $1} END {print s}')
  # The busiest server thread (on SQLite: the group-commit writer) and how busy it was.
  local busiest
  busiest=$(join <(sort "$work/$name.threads0") <(sort "$work/$name.threads1") |
    awk -v hz="$(getconf CLK_TCK)" -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
      -v n="$reqs" '{d = $3 - $2; if (d > max) max = d}
      END {printf "busiest server thread %.0f%% busy, %.0f µs per order", max / hz / wall * 100, max * 1e6 / hz / n}')
  echo "== $name: $busiest" >&2
  local rps p50 p99 cpu_us errors
  errors=$(tr ' ' '\n' <"$runs" | sed -n 's/^\(non2xx\|socket_errors\)=//p' | awk '{s += $1} END {print s}')
  rps=$(field rps <"$runs" | median)
  p50=$(field p50_us <"$runs" | median)
  p99=$(field p99_us <"$runs" | median)
  cpu_us=$(awk -v t=$((cpu1 - cpu0)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" \
    'BEGIN {printf "%.0f", t * 1e6 / hz / n}')
  local notes="$busiest" extra=""
  if [ "$name" = sqlite ]; then
    extra=$(awk -v a="$io0" -v b="$io1" -v n="$reqs" 'BEGIN {printf "%.1f kB written to disk per order", (b - a) / n / 1024}')
    if [ -s "$work/$name.syncs" ]; then
      local syncs per5
      syncs=$(awk -F, '/syscalls/ && $1 ~ /^[0-9]+$/ {s += $1} END {print s + 0}' "$work/$name.syncs")
      per5=$(awk -v rps="$(field rps <"$work/$name.run1.txt")" -v s="$syncs" \
        'BEGIN {if (s > 0) printf ", %.0f fsyncs/s (%.1f orders per sync)", s / 5, rps * 5 / s}')
      extra="$extra$per5"
    fi
    echo "== $name: $extra" >&2
    notes="$notes; $extra"
  fi
  if [ "$name" = postgresql ]; then
    wal1=$(pg_sql "$url" "SELECT wal_sync || ' ' || wal_write || ' ' || wal_bytes FROM pg_stat_wal")
    extra=$(awk -v a="$wal0" -v b="$wal1" -v n="$reqs" 'BEGIN {split(a, x, " "); split(b, y, " ");
      printf "%.2f WAL syncs and %.1f kB of WAL per order", (y[1] - x[1]) / n, (y[3] - x[3]) / n / 1024}')
    echo "== $name: $extra" >&2
    local waited
    waited=$(sort "$waits" | uniq -c | sort -rn | sed -E 's/^ *//' | paste -sd, | sed 's/,/, /g')
    echo "== $name: active backends' wait events (20 samples during run 1): $waited" >&2
    notes="$notes; $extra; backends waiting: $waited"
  fi

  if [ "${PERF:-0}" = 1 ] && command -v perf >/dev/null; then
    echo "== $name: perf record -g on the server during one more wrk run" >&2
    wrk -t2 -c32 -d"$DURATION" -s "$LUA" "$BASE" >"$work/$name.perf-run.txt" &
    local perf_wrk=$!
    sleep 1
    # shellcheck disable=SC2086 # PERF_RECORD holds several options
    perf record ${PERF_RECORD:--g} -o "$work/$name.perf.data" -p "$pid" -- sleep 5 >/dev/null 2>&1 || true
    wait "$perf_wrk"
    perf report -i "$work/$name.perf.data" --no-children --sort dso,symbol --stdio -g none \
      2>/dev/null | grep -v '^#' | grep '%' | cut -c1-150 | head -40 >"$work/$name.perf.txt" || true
    perf report -i "$work/$name.perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
      grep -v '^#' | grep '%' | head -15 >"$work/$name.perf-dso.txt" || true
    echo "--- $name: perf, by library ---" >&2
    cat "$work/$name.perf-dso.txt" >&2
    echo "--- $name: perf, top symbols ---" >&2
    head -25 "$work/$name.perf.txt" >&2
  fi

  if [ "$name" = postgresql ]; then
    # Count the statements of one order: log every statement for one request.
    local log
    log="$(dirname "$(pg_sql "$url" "SHOW data_directory")")/server.log"
    if [ -r "$log" ]; then
      pg_sql "$url" "ALTER SYSTEM SET log_statement = 'all'" >/dev/null
      pg_sql "$url" "SELECT pg_reload_conf()" >/dev/null
      sleep 1
      local before
      before=$(wc -l <"$log")
      api POST /api/v1/orders '{"external_id":"count-1","phone":"0911234567","total_minor":1000,"items":[{"sku":"SKU-1","name":"Item 1","quantity":1,"unit_price_minor":500},{"sku":"SKU-2","name":"Item 2","quantity":1,"unit_price_minor":500}]}' \
        "Idempotency-Key: count-1" >/dev/null
      sleep 0.5
      pg_sql "$url" "ALTER SYSTEM RESET log_statement" >/dev/null
      pg_sql "$url" "SELECT pg_reload_conf()" >/dev/null
      tail -n +"$((before + 1))" "$log" | grep -E 'LOG:  (statement|execute)' |
        grep -v -E 'ALTER SYSTEM|pg_reload_conf|SHOW ' >"$work/$name.statements.txt" || true
      local nstmt nwrite
      nstmt=$(wc -l <"$work/$name.statements.txt")
      # The order's own transaction: the plain BEGIN ... COMMIT that inserts into orders (the
      # API-key check is a separate read-only transaction, cached for 2 s, so rare under load;
      # the dispatcher and the feature store's tailer run transactions of their own around it).
      # Only that backend's lines ("[pid]" after the time stamp): others' interleave.
      local backend
      backend=$(grep -m1 'INSERT INTO orders ' "$work/$name.statements.txt" | awk '{print $4}')
      nwrite=$(awk -v b="$backend" '$4 != b {next}
        /(statement|execute [^:]*): BEGIN$/ {on = 1; n = 0; mine = 0}
        on {n++} on && /INSERT INTO orders / {mine = 1}
        on && /: COMMIT$/ {if (mine) {print n; found = 1; exit} on = 0}
        END {if (!found) print 0}' "$work/$name.statements.txt")
      echo "== $name: one order with 2 items and an Idempotency-Key: $nstmt statements (round trips), $nwrite of them in its write transaction (BEGIN and COMMIT included); in $work/$name.statements.txt:" >&2
      sed -E 's/.*LOG:  (statement|execute [^:]*): //' "$work/$name.statements.txt" | cut -c1-110 >&2
      notes="$notes; $nwrite statements in an order's transaction"
    fi
  fi

  echo "== $name: load average after the runs $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  echo "== $name: server memory: $(grep -E '^(VmRSS|VmHWM|RssAnon|RssFile|Threads)' "/proc/$pid/status" | tr -s ' \t' ' ' | paste -sd,)" >&2
  local rss hwm
  rss=$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  SERVER_PID=

  local what="HTTP orders with earning ($label)"
  [ "$errors" != 0 ] && what="$what (INVALID: $errors errors)"
  row "$what" "$label" 32 "$(fmt_int "$rps") orders/s" "$(ms "$p50")" "$(ms "$p99")" "$cpu_us" \
    "$rss / $hwm" "${notes#; }"

  if [ "$name" = sqlite ]; then
    local db=${url#sqlite:}
    echo "== $name: $LOOP --db $db --per-tx $LOOP_VARIANTS --seconds $LOOP_SECONDS" >&2
    "$LOOP" --db "$db" --per-tx "$LOOP_VARIANTS" --seconds "$LOOP_SECONDS" >"$work/loop.txt"
    cat "$work/loop.txt" >&2
    if [ -n "$LOOP_CHECKPOINT_THREAD" ]; then
      # The same, with checkpoints moved off the writer to a second connection and thread.
      echo "== $name: $LOOP --db $db --per-tx $LOOP_CHECKPOINT_THREAD --seconds $LOOP_SECONDS --checkpoint-thread 100" >&2
      "$LOOP" --db "$db" --per-tx "$LOOP_CHECKPOINT_THREAD" --seconds "$LOOP_SECONDS" \
        --checkpoint-thread 100 >"$work/loop-ckpt.txt"
      cat "$work/loop-ckpt.txt" >&2
      grep '^RESULT' "$work/loop-ckpt.txt" >>"$work/loop.txt"
    fi
    local l
    while read -r l; do
      local v per_tx sp ops rows p50t p99t
      per_tx=$(echo "$l" | field per_tx)
      sp=$(echo "$l" | field savepoints)
      ops=$(echo "$l" | field orders_per_s)
      rows=$(echo "$l" | field rows_per_s)
      p50t=$(echo "$l" | field p50_tx_us)
      p99t=$(echo "$l" | field p99_tx_us)
      local walkb cpuo
      walkb=$(echo "$l" | field wal_kb_per_order)
      cpuo=$(echo "$l" | field cpu_us_per_order)
      v="$per_tx order$([ "$per_tx" = 1 ] || echo s) per transaction"
      [ "$sp" = 1 ] && v="$v, a savepoint each"
      [ "$(echo "$l" | field checkpoint_thread_ms)" != 0 ] && v="$v, checkpoints on a second thread"
      row "plain sqlite3 loop: $v" SQLite 1 "$(fmt_int "$ops") orders/s" "$(ms "$p50t")" \
        "$(ms "$p99t")" "$cpuo (the loop's)" "–" \
        "$(fmt_int "$rows") rows/s; $walkb kB of WAL per order; latency is per transaction"
    done < <(grep '^RESULT' "$work/loop.txt")
  fi

  if [ "$name" = postgresql ]; then
    local pgb_url=${url%/*}/pgbench
    pg_sql "$url" "CREATE DATABASE pgbench" >/dev/null
    echo "== $name: pgbench -i -s $PGBENCH_SCALE; pgbench -c 32 -j 2 -T $PGBENCH_SECONDS × $RUNS" >&2
    pgbench -i -q -s "$PGBENCH_SCALE" "$pgb_url" >"$work/pgbench.init.txt" 2>&1 ||
      { cat "$work/pgbench.init.txt" >&2; die "pgbench -i failed"; }
    pg_sql "$pgb_url" "CHECKPOINT" >/dev/null
    local pruns="$work/pgbench.runs" pgb_fail=0
    : >"$pruns"
    for r in $(seq 1 "$RUNS"); do
      local dir="$work/pgbench.run$r"
      mkdir -p "$dir"
      (cd "$dir" && pgbench -c 32 -j 2 -T "$PGBENCH_SECONDS" -l "$pgb_url" >"$dir/out.txt" 2>&1) ||
        { cat "$dir/out.txt" >&2; die "pgbench failed"; }
      local tps failed p50l p99l
      tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$dir/out.txt")
      failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$dir/out.txt")
      failed=${failed:-0}
      # Per-transaction log: client, transaction, latency in µs, ...
      read -r p50l p99l < <(cat "$dir"/pgbench_log.* | awk '{print $3}' | sort -n |
        awk '{v[NR] = $1} END {print v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1]}')
      echo "pgbench run $r: tps=$tps p50_us=$p50l p99_us=$p99l failed=$failed" >&2
      echo "RESULT tps=$tps p50_us=$p50l p99_us=$p99l failed=$failed" >>"$pruns"
      pgb_fail=$((pgb_fail + failed))
      rm -f "$dir"/pgbench_log.*
    done
    local what="pgbench TPC-B-like (-s $PGBENCH_SCALE)"
    [ "$pgb_fail" != 0 ] && what="$what (INVALID: $pgb_fail failed)"
    row "$what" PostgreSQL 32 "$(fmt_int "$(field tps <"$pruns" | median)") tx/s" \
      "$(ms "$(field p50_us <"$pruns" | median)")" "$(ms "$(field p99_us <"$pruns" | median)")" \
      "–" "–" "BEGIN, 3 UPDATE, SELECT, INSERT, END: 7 statements a transaction"
  fi
}

SERVER_PID=
WORK=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$WORK" ] && [ "${KEEP:-0}" != 1 ] && [ "${PERF:-0}" != 1 ] && [ "${INNER:-0}" != 1 ]; then
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# Inside scripts/with-postgres.sh: REGULARS_TEST_PG is set.
if [ "${1:-}" = "--inner-postgres" ]; then
  WORK=$2
  INNER=1
  bench_backend postgresql "$REGULARS_TEST_PG" "$2"
  exit 0
fi

which=${1:-all}
case "$which" in sqlite | postgres | all) ;; *) die "usage: $0 [sqlite|postgres|all]" ;; esac
[ -x "$REGULARS" ] || die "$REGULARS not found; cmake --build build --target regulars"
[ -x "$GEN" ] || die "$GEN not found; cmake --build build --target bench_gen_members"
[ -x "$LOOP" ] || die "$LOOP not found; cmake --build build --target bench_sqlite_loop"
command -v wrk >/dev/null || die "wrk not found; apt-get install -y wrk"
command -v pgbench >/dev/null || [ "$which" = sqlite ] || die "pgbench not found (postgresql-client)"

work=$(mktemp -d "${TMPDIR:-/tmp}/regulars-orders.XXXXXX")
WORK=$work
: >"$work/table"
if [ "${KEEP:-0}" = 1 ] || [ "${PERF:-0}" = 1 ]; then echo "== results kept in $work" >&2; fi
echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
started=$(date +%s)

if [ "$which" != postgres ]; then
  bench_backend sqlite "sqlite:$work/bench.db" "$work"
fi
if [ "$which" != sqlite ]; then
  PG_DURABLE=1 "$ROOT/scripts/with-postgres.sh" "$0" --inner-postgres "$work"
fi

echo
echo "$MEMBERS members; wrk -t2 -c32 -d$DURATION, medians of $RUNS runs; pgbench medians of $RUNS runs of ${PGBENCH_SECONDS}s; the loop ${LOOP_SECONDS}s a variant. $(($(date +%s) - started)) s in all."
echo
echo "| what | database | clients | per second | p50 ms | p99 ms | server CPU µs/req | server RSS / peak MiB | notes |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
cat "$work/table"
if [ -n "${RESULTS:-}" ]; then cat "$work/table" >>"$RESULTS"; fi
if grep -q INVALID "$work/table"; then
  echo "run_orders: some runs had errors; those rows are invalid" >&2
  exit 1
fi
