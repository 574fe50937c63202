#!/usr/bin/env bash
# Messaging core: (1) render + enqueue personalised e-mails, a marketing template in two
# languages, the outbox row (no message_queued event since session 12: the row is the member
# timeline's queued step), SQLite synchronous=FULL: the bulk path
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
#   PEERS [""]: other builds of bench_messaging to time against BENCH in the same run, as
#     "name=path name=path" (e.g. PEERS="before=/tmp/bench_messaging.before"); every round runs
#     BENCH and then each peer, alternating, on a fresh database each
#   RENDER_N [1000000]  SINGLE_N [100000] (0: no one-by-one runs)  BATCH [20000]  PIPELINED [1]
#   PG [0]  DELIVER_N [20000] (0: no delivery runs)  WORKERS [4]  RUNS [3]
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
PEERS=${PEERS:-}

[ -x "$BENCH" ] || { echo "run_messaging: $BENCH not built (ninja -C build bench_messaging)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/rg-messaging-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
field() { { grep -oE "(^| )$1=[0-9.]*" || true; } | cut -d= -f2; }  # " seconds=" is not "rerun_seconds="; a missing field gives nothing

: >"$WORK/render"
for run in $(seq 1 "$RUNS"); do
  for peer in "this=$BENCH" $PEERS; do
    name=${peer%%=*} bin=${peer#*=}
    [ -x "$bin" ] || { echo "run_messaging: peer $name: $bin is not executable" >&2; exit 1; }
    out=$("$bin" render-enqueue-bulk "$RENDER_N" "sqlite:$WORK/bulk-$run.db" "$BATCH" "$PIPELINED" |
      grep RESULT)
    echo "run $run $name: $out" >&2
    echo "$out" | field rate >>"$WORK/bulk-$name"
    echo "$out" | field seconds >>"$WORK/bulk-$name.s"
    echo "$out" | field rerun_seconds >>"$WORK/bulk-$name.rerun"
    echo "$out" | field cpu_seconds >>"$WORK/bulk-$name.cpu"
    echo "$out" | field db_bytes >>"$WORK/bulk-$name.bytes"
    rm -f "$WORK"/bulk-"$run".db*
  done

  if [ "$SINGLE_N" -gt 0 ]; then
    out=$("$BENCH" render-enqueue "$SINGLE_N" "sqlite:$WORK/render-$run.db" | grep RESULT)
    echo "run $run: $out" >&2
    echo "$out" | field rate >>"$WORK/render"
    echo "$out" | field seconds >>"$WORK/render.s"
    rm -f "$WORK"/render-"$run".db*
  fi

  if [ "$PG" = 1 ]; then
    out=$(PG_DURABLE=1 "$ROOT/scripts/with-postgres.sh" sh -c \
      "\"$BENCH\" render-enqueue-bulk $RENDER_N \"\$REGULARS_TEST_PG\" $BATCH $PIPELINED" |
      grep RESULT)
    echo "run $run: PostgreSQL $out" >&2
    echo "$out" | field rate >>"$WORK/pg"
    echo "$out" | field seconds >>"$WORK/pg.s"
  fi
done

echo "| what | n | median of $RUNS | |"
echo "|---|---|---|---|"
b=$(median <"$WORK/bulk-this")
for peer in "this=$BENCH" $PEERS; do
  name=${peer%%=*}
  pb=$(median <"$WORK/bulk-$name"); ps=$(median <"$WORK/bulk-$name.s"); pr=$(median <"$WORK/bulk-$name.rerun")
  vs=$(awk -v a="$b" -v b="$pb" 'BEGIN {printf "%.2f", a / b}')
  cpu=$(median <"$WORK/bulk-$name.cpu")  # empty for a build that does not print it
  per=$(median <"$WORK/bulk-$name.bytes" | awk -v n="$RENDER_N" '$1 > 0 {printf "%.0f", $1 / n}')
  echo "| render + enqueue, bulk, $name (SQLite, $BATCH per tx, pipelined=$PIPELINED) | $RENDER_N | $ps s ($pb msg/s) | this: ${vs}x its rate; CPU ${cpu:-?} s; ${per:-?} B/message in the database; re-run enqueues 0 in $pr s |"
done
if [ "$PG" = 1 ]; then
  p=$(median <"$WORK/pg"); ps=$(median <"$WORK/pg.s")
  echo "| render + enqueue, bulk (PostgreSQL, durable) | $RENDER_N | $ps s ($p msg/s) | |"
fi
if [ "$SINGLE_N" -gt 0 ]; then
  r=$(median <"$WORK/render"); rs=$(median <"$WORK/render.s")
  echo "| render + enqueue, one by one (SQLite) | $SINGLE_N | $rs s ($r msg/s) | this: $(awk -v a="$b" -v b="$r" 'BEGIN {printf "%.2f", a / b}')x its rate |"
fi
[ "$DELIVER_N" -gt 0 ] || exit 0
BENCH=$BENCH DELIVER_N=$DELIVER_N WORKERS=$WORKERS RUNS=$RUNS UNCOMMITTED=0 \
  "$ROOT/bench/run_delivery.sh"
