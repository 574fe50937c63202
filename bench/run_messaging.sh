#!/usr/bin/env bash
# Messaging core: (1) render + enqueue personalised e-mails, a marketing template in two
# languages, the outbox row and its message_queued event, SQLite synchronous=FULL: the bulk path
# (bench_messaging render-enqueue-bulk: outbox_bulk.h, BATCH members per transaction, batch k+1
# rendered while batch k is written unless PIPELINED=0, then a second run that must enqueue
# nothing) for RENDER_N members, and as its
# peer in the same run the one-by-one path (render-enqueue: a JSON context per member, Render,
# Enqueue, 5,000 per transaction) for SINGLE_N members; with PG=1 also the bulk path on a
# throwaway PostgreSQL with durable settings (PG_DURABLE=1 scripts/with-postgres.sh); (2) then
# delivery against postfix's smtp-source, by bench/run_delivery.sh with the sender's defaults
# (UNCOMMITTED=0; run that script alone to vary it).
#
#   bench/run_messaging.sh
#
# Environment (defaults in brackets): BUILD [build]  BENCH [$BUILD/bench/bench_messaging]
#   RENDER_N [1000000]  SINGLE_N [100000]  BATCH [20000]  PIPELINED [1]  PG [0]
#   DELIVER_N [20000] (0: no delivery runs)  WORKERS [4]  RUNS [3]
# Prints every run and then the medians. Delivery needs root for smtp-sink -u nobody.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BENCH=${BENCH:-$BUILD/bench/bench_messaging}
RENDER_N=${RENDER_N:-1000000}
SINGLE_N=${SINGLE_N:-100000}
BATCH=${BATCH:-20000}
PIPELINED=${PIPELINED:-1}
PG=${PG:-0}
DELIVER_N=${DELIVER_N:-20000}
WORKERS=${WORKERS:-4}
RUNS=${RUNS:-3}

[ -x "$BENCH" ] || { echo "run_messaging: $BENCH not built (ninja -C build bench_messaging)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/rg-messaging-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
field() { grep -oE "(^| )$1=[0-9.]*" | cut -d= -f2; }  # " seconds=" is not "rerun_seconds="

: >"$WORK/render"
for run in $(seq 1 "$RUNS"); do
  out=$("$BENCH" render-enqueue-bulk "$RENDER_N" "sqlite:$WORK/bulk-$run.db" "$BATCH" "$PIPELINED" |
    grep RESULT)
  echo "run $run: $out" >&2
  echo "$out" | field rate >>"$WORK/bulk"
  echo "$out" | field seconds >>"$WORK/bulk.s"
  echo "$out" | field rerun_seconds >>"$WORK/bulk.rerun"
  rm -f "$WORK"/bulk-"$run".db*

  out=$("$BENCH" render-enqueue "$SINGLE_N" "sqlite:$WORK/render-$run.db" | grep RESULT)
  echo "run $run: $out" >&2
  echo "$out" | field rate >>"$WORK/render"
  echo "$out" | field seconds >>"$WORK/render.s"
  rm -f "$WORK"/render-"$run".db*

  if [ "$PG" = 1 ]; then
    out=$(PG_DURABLE=1 "$ROOT/scripts/with-postgres.sh" sh -c \
      "\"$BENCH\" render-enqueue-bulk $RENDER_N \"\$REGULARS_TEST_PG\" $BATCH $PIPELINED" |
      grep RESULT)
    echo "run $run: PostgreSQL $out" >&2
    echo "$out" | field rate >>"$WORK/pg"
    echo "$out" | field seconds >>"$WORK/pg.s"
  fi
done

r=$(median <"$WORK/render"); rs=$(median <"$WORK/render.s")
b=$(median <"$WORK/bulk"); bs=$(median <"$WORK/bulk.s"); br=$(median <"$WORK/bulk.rerun")
echo "| what | n | median | |"
echo "|---|---|---|---|"
echo "| render + enqueue, bulk (SQLite, $BATCH per tx, pipelined=$PIPELINED) | $RENDER_N | $bs s ($b msg/s) | $(awk -v a="$b" -v b="$r" 'BEGIN {printf "%.2f", a / b}')x one-by-one; re-run enqueues 0 in $br s |"
if [ "$PG" = 1 ]; then
  p=$(median <"$WORK/pg"); ps=$(median <"$WORK/pg.s")
  echo "| render + enqueue, bulk (PostgreSQL, durable) | $RENDER_N | $ps s ($p msg/s) | |"
fi
echo "| render + enqueue, one by one (SQLite) | $SINGLE_N | $rs s ($r msg/s) | |"
[ "$DELIVER_N" -gt 0 ] || exit 0
BENCH=$BENCH DELIVER_N=$DELIVER_N WORKERS=$WORKERS RUNS=$RUNS UNCOMMITTED=0 \
  "$ROOT/bench/run_delivery.sh"
