#!/usr/bin/env bash
# Runs a command next to a throwaway PostgreSQL 15 server:
#
#   scripts/with-postgres.sh build/src/store/store_test
#
# The server lives in a fresh temporary folder (data, unix socket, log), listens on 127.0.0.1 on
# a free port with trust authentication, and has an empty database `regulars_test`. The command
# sees REGULARS_TEST_PG=postgresql://postgres@127.0.0.1:PORT/regulars_test. When the command ends
# (or fails, or is interrupted) the server is stopped and the folder removed; the script exits
# with the command's exit code. Quiet on success; if the server does not start, the tail of its
# log is printed.
#
# For speed the server runs with fsync=off, synchronous_commit=off and full_page_writes=off: a
# crash of the machine can corrupt it, which does not matter for a database that is thrown away
# after the run. Never use these settings for data you keep.
#
# PG_DURABLE=1 leaves fsync, synchronous_commit and full_page_writes at PostgreSQL's durable
# defaults (on) instead, for benchmarks of durable writes (bench/run_orders.sh).
#
# Needs Debian's postgresql-15 (scripts/install-deps.sh); override the binaries with PG_BIN.
set -euo pipefail

if (($# == 0)); then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PG_BIN/initdb" ]; then
  echo "with-postgres: $PG_BIN/initdb not found; run scripts/install-deps.sh" >&2
  exit 2
fi

# initdb refuses to run as root: run the server as the `postgres` user then.
if [ "$(id -u)" -eq 0 ]; then
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
    return
  fi
  # No python: try random ports until bash cannot connect to one.
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo "with-postgres: no free port found" >&2
  return 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/regulars-pg.XXXXXX")
data="$tmp/data"
sock="$tmp/sock"
log="$tmp/server.log"
setup_log="$tmp/setup.log"
mkdir -p "$sock"
touch "$log"
if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$tmp"; fi

# Set once a start was attempted: an interrupted start may still leave a server running.
started=0
# shellcheck disable=SC2317  # invoked through the EXIT trap
cleanup() {
  if ((started)); then
    as_pg "$PG_BIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail_start() {
  echo "with-postgres: $1" >&2
  for f in "$setup_log" "$log"; do
    if [ -s "$f" ]; then
      echo "--- last lines of ${f##*/} ---" >&2
      tail -n 20 "$f" >&2
    fi
  done
  exit 1
}

if ! as_pg "$PG_BIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
  --no-sync >"$setup_log" 2>&1; then
  fail_start "initdb failed"
fi

speed="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if [ "${PG_DURABLE:-0}" = 1 ]; then speed=""; fi

# Ports can be taken between picking and binding; try a few.
port=
running=0
for _ in 1 2 3 4 5; do
  port=$(free_port)
  started=1
  if as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 30 -s \
    -o "-p $port -k $sock -c listen_addresses=127.0.0.1 $speed -c max_connections=200" \
    start >>"$setup_log" 2>&1; then
    running=1
    break
  fi
  # A failed start can leave a half-started server; make sure it is gone before retrying.
  as_pg "$PG_BIN/pg_ctl" -D "$data" -m immediate -w stop >>"$setup_log" 2>&1 || true
done
((running)) || fail_start "server did not start"

if ! as_pg "$PG_BIN/psql" -h "$sock" -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
  -c "CREATE DATABASE regulars_test" >>"$setup_log" 2>&1; then
  fail_start "could not create database regulars_test"
fi

export REGULARS_TEST_PG="postgresql://postgres@127.0.0.1:$port/regulars_test"

set +e
"$@"
rc=$?
set -e
exit "$rc"
