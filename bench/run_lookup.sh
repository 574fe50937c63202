#!/usr/bin/env bash
# Member lookup by phone over HTTP, on SQLite and PostgreSQL, with wrk.
#
#   bench/run_lookup.sh [sqlite|postgres|all]        (default all)
#
# Builds nothing. Expects a Release build of the server and the generator:
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
#   cmake --build build --target regulars bench_gen_members
# and Debian's wrk (apt-get install -y wrk); PostgreSQL runs through scripts/with-postgres.sh.
#
# For each database: generate MEMBERS members into a fresh database (SQLite in a temporary
# folder; PostgreSQL in a throwaway server), start `regulars serve` on 127.0.0.1, warm up, then
# run wrk RUNS times at 1 connection (-t1 -c1) and at 32 connections (-t2 -c32), each for
# DURATION with --latency. Prints every run, then a markdown table of the medians, with the
# server's resident memory (VmRSS, and the peak VmHWM) after the runs and the server's CPU time
# per request. A run with any non-200 answer or socket error (wrk's default 2 s timeout counts)
# marks its row INVALID and makes the script exit 1.
#
# Environment (defaults in brackets):
#   BUILD [build]  REGULARS [$BUILD/regulars]  GEN [$BUILD/bench/bench_gen_members]
#   MEMBERS [1000000]  RUNS [3]  DURATION [10s]  WARMUP [10s]  KEEP=1 keeps the temporary folder
#   RESULTS [unset]: also append the table rows to this file
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
REGULARS=${REGULARS:-$BUILD/regulars}
GEN=${GEN:-$BUILD/bench/bench_gen_members}
MEMBERS=${MEMBERS:-1000000}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-10s}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
LUA="$ROOT/bench/lookup.lua"
export BENCH_MEMBERS=$MEMBERS

die() {
  echo "run_lookup: $*" >&2
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

# bench_backend NAME URL WORKDIR: generate, serve, measure; appends table rows to WORKDIR/table.
bench_backend() {
  local name=$1 url=$2 work=$3
  echo "== $name: generating $MEMBERS members" >&2
  "$GEN" --database "$url" --members "$MEMBERS" >"$work/$name.gen.json"
  local key
  key=$(grep -o '"api_key":"[^"]*"' "$work/$name.gen.json" | cut -d'"' -f4)
  [ -n "$key" ] || die "no api_key in $work/$name.gen.json"
  export REGULARS_KEY=$key
  cat "$work/$name.gen.json" >&2

  local size
  if [ "$name" = postgresql ]; then
    # Hint bits and the visibility map, as on a database that has been up for a while.
    "$PG_BIN/psql" "$url" -qAt -v ON_ERROR_STOP=1 -c "VACUUM ANALYZE" >&2
    size=$("$PG_BIN/psql" "$url" -qAt -c "SELECT pg_size_pretty(pg_database_size(current_database()))")
  else
    size=$(du -sh "${url#sqlite:}" | cut -f1)
  fi
  echo "== $name: database size $size" >&2

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
  local base="http://127.0.0.1:$port"
  echo "== $name: server pid $pid at $base; load average $(cut -d' ' -f1-3 /proc/loadavg); warming up for $WARMUP" >&2
  wrk -t2 -c32 -d"$WARMUP" -s "$LUA" "$base" >"$work/$name.warmup.txt"
  grep -q 'non200=0 ' "$work/$name.warmup.txt" ||
    { cat "$work/$name.warmup.txt" >&2; die "$name: errors during warm-up"; }

  local conns threads runs cpu0 cpu1 reqs
  for conns in 1 32; do
    threads=$((conns == 1 ? 1 : 2))
    runs="$work/$name.c$conns.runs"
    : >"$runs"
    cpu0=$(cpu_ticks "$pid")
    for r in $(seq 1 "$RUNS"); do
      local cmd=(wrk "-t$threads" "-c$conns" "-d$DURATION" --latency -s "$LUA" "$base")
      [ "$r" = 1 ] && echo "== $name: REGULARS_KEY=... BENCH_MEMBERS=$MEMBERS ${cmd[*]}" >&2
      "${cmd[@]}" >"$work/$name.c$conns.run$r.txt"
      local line
      line=$(grep '^RESULT' "$work/$name.c$conns.run$r.txt") || die "no RESULT line"
      echo "$name c=$conns run $r: ${line#RESULT }" >&2
      [[ $line == *"non200=0 socket_errors=0"* ]] ||
        echo "run_lookup: $name c=$conns run $r had errors; its row is marked invalid" >&2
      echo "$line" >>"$runs"
    done
    cpu1=$(cpu_ticks "$pid")
    reqs=$(field requests <"$runs" | awk '{s += $1} END {print s}')
    local rps p50 p99 cpu_us errors
    errors=$(tr ' ' '\n' <"$runs" | sed -n 's/^\(non200\|socket_errors\)=//p' | awk '{s += $1} END {print s}')
    rps=$(field rps <"$runs" | median)
    p50=$(field p50_us <"$runs" | median)
    p99=$(field p99_us <"$runs" | median)
    cpu_us=$(awk -v t=$((cpu1 - cpu0)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" \
      'BEGIN {printf "%.0f", t * 1e6 / hz / n}')
    printf '%s %s %s %s %s %s %s\n' "$name" "$conns" "$rps" "$p50" "$p99" "$cpu_us" "$errors" \
      >>"$work/$name.medians"
  done

  echo "== $name: load average after the runs $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  echo "== $name: server memory: $(grep -E '^(VmRSS|VmHWM|RssAnon|RssFile|Threads)' "/proc/$pid/status" | tr -s ' \t' ' ' | paste -sd,)" >&2
  local rss hwm
  rss=$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  SERVER_PID=

  while read -r n c rps p50 p99 cpu_us errors; do
    if [ "$errors" != 0 ]; then n="$n (INVALID: $errors errors)"; fi
    printf '| %s | %s | %s | %s | %.2f | %.2f | %s | %s / %s | %s |\n' "$n" "$MEMBERS" "$c" \
      "$(printf '%.0f' "$rps")" "$(awk -v v="$p50" 'BEGIN {print v / 1000}')" \
      "$(awk -v v="$p99" 'BEGIN {print v / 1000}')" "$cpu_us" "$rss" "$hwm" "$size" \
      >>"$work/table"
  done <"$work/$name.medians"
}

SERVER_PID=
WORK=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$WORK" ] && [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Inside scripts/with-postgres.sh: REGULARS_TEST_PG is set.
if [ "${1:-}" = "--inner-postgres" ]; then
  bench_backend postgresql "$REGULARS_TEST_PG" "$2"
  exit 0
fi

which=${1:-all}
case "$which" in sqlite | postgres | all) ;; *) die "usage: $0 [sqlite|postgres|all]" ;; esac
[ -x "$REGULARS" ] || die "$REGULARS not found; cmake --build build --target regulars"
[ -x "$GEN" ] || die "$GEN not found; cmake --build build --target bench_gen_members"
command -v wrk >/dev/null || die "wrk not found; apt-get install -y wrk"

work=$(mktemp -d "${TMPDIR:-/tmp}/regulars-bench.XXXXXX")
WORK=$work
if [ "${KEEP:-0}" = 1 ]; then echo "== results kept in $work" >&2; fi

if [ "$which" != postgres ]; then
  bench_backend sqlite "sqlite:$work/bench.db" "$work"
fi
if [ "$which" != sqlite ]; then
  "$ROOT/scripts/with-postgres.sh" "$0" --inner-postgres "$work"
fi

echo
echo "$MEMBERS members; medians of $RUNS runs of $DURATION each; wrk -t1 -c1 and -t2 -c32."
echo
echo "| database | members | connections | req/s | p50 ms | p99 ms | server CPU µs/req | RSS / peak MiB | db size |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
cat "$work/table"
if [ -n "${RESULTS:-}" ]; then cat "$work/table" >>"$RESULTS"; fi
if grep -q INVALID "$work/table"; then
  echo "run_lookup: some runs had non-200 answers or socket errors; those rows are invalid" >&2
  exit 1
fi
