#!/usr/bin/env bash
# What SQLite alone needs to store the bulk path's rows, and what a smaller design could buy:
# the same N outbox rows and N message_queued events as bench_messaging render-enqueue-bulk
# wrote up to session 11 (since session 12 the bulk path writes no event: `noevents` is the
# current design)
# (same schema, made by the bench binary's migrations; same sizes of subject, text, HTML,
# headers and event data), generated inside the sqlite3 CLI by a recursive CTE, with no
# rendering and no binding, in transactions of BATCH rows, WAL, synchronous=FULL, 64 MiB cache.
# Variants, run alternating in each round:
#   asis        the schema as migrated
#   noidx       without the 4 secondary outbox indexes (due, lease, provider, member_sent)
#   noevents    no message_queued events
#   noheaders   headers not stored ('[]')
#   narrow      neither text nor HTML stored (subject, dedup key and metadata only)
#   min         noidx + noevents + noheaders together
#
#   bench/messaging_floor.sh
#
# Environment: BENCH [build/bench/bench_messaging] (makes the schema)  N [1000000]
#   BATCH [20000]  RUNS [3]  VARIANTS ["asis noidx noevents noheaders narrow min"]
# Prints "FLOOR variant=V run=R seconds=S bytes=B" per run, then the medians.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=${BENCH:-$ROOT/build/bench/bench_messaging}
N=${N:-1000000}
BATCH=${BATCH:-20000}
RUNS=${RUNS:-3}
VARIANTS=${VARIANTS:-asis noidx noevents noheaders narrow min}

WORK=$(mktemp -d /tmp/rg-messaging-floor-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# The schema: one bulk message through the real migrations, then emptied.
"$BENCH" render-enqueue-bulk 1 "sqlite:$WORK/schema.db" >/dev/null
sqlite3 "$WORK/schema.db" "DELETE FROM outbox; DELETE FROM events; UPDATE merchants SET last_event_seq = 0; VACUUM; PRAGMA journal_mode=DELETE;" >/dev/null

# The DDL and SQL of one variant.
ddl() {
  case $1 in
    noidx | min) echo "DROP INDEX outbox_due; DROP INDEX outbox_lease; DROP INDEX outbox_provider; DROP INDEX outbox_member_sent;" ;;
  esac
}
script() {
  local v=$1 headers="'[[\"List-Unsubscribe\",\"<' || u || '>\"],[\"List-Unsubscribe-Post\",\"List-Unsubscribe=One-Click\"]]'"
  local text="CASE WHEN i % 3 THEN '親愛的 ' || nm || '：' || char(10) || '您目前有 ' || (i % 5000) || ' 點，儲值金 ' || (i % 100000) || '。' || char(10) || '退訂：' || u || char(10) ELSE 'Dear ' || nm || ',' || char(10) || 'you have ' || (i % 5000) || ' points.' || char(10) || 'Unsubscribe: ' || u || char(10) END"
  local html="CASE WHEN i % 3 THEN '<p>親愛的 <b>' || nm || '</b>：</p><p>您目前有 ' || (i % 5000) || ' 點。</p><p><a href=\"' || u || '\">退訂</a></p>' ELSE '<p>Dear <b>' || nm || '</b>,</p><p><a href=\"' || u || '\">Unsubscribe</a></p>' END"
  case $v in noheaders | min) headers="'[]'" ;; esac
  case $v in narrow) text="''"; html="''" ;; esac
  echo "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536; PRAGMA foreign_keys=ON;"
  for ((start = 0; start < N; start += BATCH)); do
    local end=$((start + BATCH < N ? start + BATCH : N))
    echo "BEGIN IMMEDIATE;"
    echo "WITH RECURSIVE s(i) AS (SELECT $start UNION ALL SELECT i + 1 FROM s WHERE i + 1 < $end),
      m AS (SELECT i, '會員' || i AS nm, printf('https://r.example/u/%x', (i * 2654435761) % 4294967296) AS u FROM s)
      INSERT INTO outbox (merchant_id, id, dedup_key, member_id, channel_id, medium, purpose, template_id, recipient, subject, body_text, body_html, headers, status, attempts, max_attempts, next_attempt_at, cost_minor, created_at, updated_at)
      SELECT 1, 7533575780203233786 + i * 1024, 'campaign:1:' || i, 1000000 + i, 1, 'email', 'marketing', NULL, 'm' || i || '@example.com',
        CASE WHEN i % 3 THEN nm || '，您有 ' || (i % 5000) || ' 點' ELSE nm || ', you have ' || (i % 5000) || ' points' END,
        $text, $html, $headers, 'queued', 0, 8, 1796144433068033, NULL, 1796144433068033, 1796144433068033 FROM m WHERE true
      ON CONFLICT (merchant_id, dedup_key) DO NOTHING;"
    case $v in noevents | min) ;;
      *) echo "WITH RECURSIVE s(i) AS (SELECT $start UNION ALL SELECT i + 1 FROM s WHERE i + 1 < $end)
      INSERT INTO events (merchant_id, seq, id, type, member_id, occurred_at, actor, data)
      SELECT 1, i + 1, 7533575780245176826 + i * 1024, 'message_queued', 1000000 + i, 1796144433068033, 'system',
        '{\"channel_id\":\"1\",\"dedup_key\":\"campaign:1:' || i || '\",\"medium\":\"email\",\"message_id\":\"' || (7533575780203233786 + i * 1024) || '\",\"purpose\":\"marketing\"}' FROM s;
      UPDATE merchants SET last_event_seq = $end WHERE merchant_id = 1;" ;;
    esac
    echo "COMMIT;"
  done
  echo "PRAGMA wal_checkpoint(TRUNCATE);"
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for v in $VARIANTS; do script "$v" >"$WORK/$v.sql"; done
for run in $(seq 1 "$RUNS"); do
  for v in $VARIANTS; do
    rm -f "$WORK"/run.db*
    cp "$WORK/schema.db" "$WORK/run.db"
    sqlite3 "$WORK/run.db" "$(ddl "$v") VACUUM;" >/dev/null
    t0=$(date +%s.%N)
    sqlite3 -bail "$WORK/run.db" <"$WORK/$v.sql" >/dev/null
    t1=$(date +%s.%N)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
    bytes=$(stat -c %s "$WORK/run.db")
    echo "FLOOR variant=$v run=$run seconds=$s bytes=$bytes"
    echo "$s" >>"$WORK/$v.s"
  done
done
echo "| variant | n | median of $RUNS |"
echo "|---|---|---|"
for v in $VARIANTS; do echo "| $v | $N | $(median <"$WORK/$v.s") s |"; done
