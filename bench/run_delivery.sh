#!/usr/bin/env bash
# Messaging delivery (run_messaging.sh ends with it; run alone to vary the crash-window setting
# varied): the sender workers (bench_messaging deliver: W workers, each with one SMTP session,
# at most U deliveries awaiting their `sent` commit) into postfix's smtp-sink, and in the same
# run postfix's smtp-source sending the same number of messages to the same sink with as many
# sessions as the sender has workers (-s W, -d: one connection per session).
#
#   flock /tmp/regulars-bench.lock bench/run_delivery.sh
#
# Environment (defaults in brackets): BUILD [build]  BENCH [$BUILD/bench/bench_messaging]
#   DELIVER_N [10000]  WORKERS [4]
#   CONFIGS ["0 0:curl 0:durable,curl"] one sender run per entry U[:FLAGS]: U = max_uncommitted,
#     FLAGS as bench_messaging deliver takes them ("durable": the sender's commits durable;
#     "curl": the libcurl client instead of the pipelining session); "0" is the default sender
#   RUNS [3]  PORT [25260]  BASELINE [] (another bench_messaging binary, e.g. one built from an
#   earlier commit, run the same way with its default settings as one more row)
#   PERF_COUNTS [] 1: each sender run under `perf stat` (needs root), printing its context
#   switches, futex calls and CPU time per message (the whole process, untimed enqueue included)
# Prints every run and then the medians. Needs root for smtp-sink -u nobody.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BENCH=${BENCH:-$BUILD/bench/bench_messaging}
DELIVER_N=${DELIVER_N:-10000}
WORKERS=${WORKERS:-4}
# UNCOMMITTED (a list of max_uncommitted values), as run_messaging.sh sets it, is CONFIGS too.
CONFIGS=${CONFIGS:-${UNCOMMITTED:-0 0:curl 0:durable,curl}}
RUNS=${RUNS:-3}
PORT=${PORT:-25260}
BASELINE=${BASELINE:-}
PERF_COUNTS=${PERF_COUNTS:-}

[ -x "$BENCH" ] || { echo "run_delivery: $BENCH not built (ninja -C build bench_messaging)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/rg-delivery-bench-XXXXXX)
SINK=""
cleanup() {
  [ -n "$SINK" ] && kill "$SINK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
field() { grep -o "$1=[0-9.]*" | cut -d= -f2; }
# Runs a sender binary with its arguments, under perf stat when PERF_COUNTS is set (the counts
# per message go to stderr).
counted() {
  if [ -z "$PERF_COUNTS" ]; then "$@"; return; fi
  perf stat -x, -o "$WORK/perf" \
    -e context-switches,syscalls:sys_enter_futex,syscalls:sys_enter_pwrite64,task-clock "$@"
  grep -v '^#' "$WORK/perf" | grep . | awk -F, -v n="$DELIVER_N" \
    '{printf "%s=%.2f%s ", $3, $1 / n, $3 == "task-clock" ? "ms" : ""} END {print "per message"}' >&2
}

/usr/sbin/smtp-sink -u nobody "127.0.0.1:$PORT" 1000 &
SINK=$!
sleep 0.5

echo "load before: $(cat /proc/loadavg)" >&2
: >"$WORK/source"
for run in $(seq 1 "$RUNS"); do
  for cfg in $CONFIGS; do
    u=${cfg%%:*}; flags=""; [ "$cfg" != "$u" ] && flags=${cfg#*:}
    key=$(echo "$cfg" | tr ':,' '__')
    out=$(counted "$BENCH" deliver "$DELIVER_N" "sqlite:$WORK/deliver-$run-$key.db" "$PORT" "$WORKERS" \
      "$u" "$flags" | grep RESULT)
    echo "run $run: $out" >&2
    echo "$out" | field rate >>"$WORK/deliver-$key"
    echo "$out" | field sent_commits >>"$WORK/commits-$key"
    rm -f "$WORK"/deliver-"$run"-"$key".db*
  done

  if [ -n "$BASELINE" ]; then
    out=$(counted "$BASELINE" deliver "$DELIVER_N" "sqlite:$WORK/baseline-$run.db" "$PORT" "$WORKERS" |
      grep RESULT)
    echo "run $run: baseline $out" >&2
    echo "$out" | field rate >>"$WORK/baseline"
    rm -f "$WORK"/baseline-"$run".db*
  fi

  t0=$(now)
  /usr/sbin/smtp-source -s "$WORKERS" -d -m "$DELIVER_N" -f shop@example.com -t m@example.com \
    "127.0.0.1:$PORT"
  t1=$(now)
  rate=$(awk -v a="$t0" -v b="$t1" -v n="$DELIVER_N" 'BEGIN {printf "%.0f", n / (b - a)}')
  echo "run $run: RESULT what=smtp-source n=$DELIVER_N rate=$rate" >&2
  echo "$rate" >>"$WORK/source"
done
echo "load after: $(cat /proc/loadavg)" >&2

s=$(median <"$WORK/source")
echo "| what | n | median of $RUNS | |"
echo "|---|---|---|---|"
for cfg in $CONFIGS; do
  key=$(echo "$cfg" | tr ':,' '__')
  d=$(median <"$WORK/deliver-$key"); c=$(median <"$WORK/commits-$key")
  echo "| Regulars sender, $WORKERS workers, $cfg -> smtp-sink | $DELIVER_N | $d msg/s ($c \`sent\` commits) | $(awk -v a="$d" -v b="$s" 'BEGIN {printf "%.2f", a / b}') of smtp-source |"
done
if [ -n "$BASELINE" ]; then
  d=$(median <"$WORK/baseline")
  echo "| baseline $(basename "$BASELINE"), $WORKERS workers -> smtp-sink | $DELIVER_N | $d msg/s | $(awk -v a="$d" -v b="$s" 'BEGIN {printf "%.2f", a / b}') of smtp-source |"
fi
echo "| smtp-source -s $WORKERS -d -> smtp-sink | $DELIVER_N | $s msg/s | |"
