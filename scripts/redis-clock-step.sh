#!/usr/bin/env bash
# Demonstration (not a test): step the wall clock one year forward while a lock is held, first
# under redis-server, then under tumbler-server. Both run under tests/shim/clockshift.c, an
# LD_PRELOAD library that offsets CLOCK_REALTIME by the seconds written in a file, so only
# these two processes see the step. Redis keeps deadlines on the wall clock and loses the lock
# at once; tumbler keeps them on the monotonic clock and the lock keeps its full TTL.
#
#   scripts/redis-clock-step.sh [path/to/tumbler-server]     (default: target/release/tumbler-server)
#
# Needs cc, redis-server, redis-cli and python3 (to pick free ports).
set -euo pipefail
cd "$(dirname "$0")/.."

tumbler=${1:-target/release/tumbler-server}
[ -x "$tumbler" ] || { echo "no tumbler-server at $tumbler: run cargo build --release, or pass its path" >&2; exit 1; }
for p in cc redis-server redis-cli python3; do
  command -v "$p" >/dev/null 2>&1 || { echo "$p is needed" >&2; exit 1; }
done

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cc -shared -fPIC -O2 -o "$work/libclockshift.so" tests/shim/clockshift.c -ldl
offset_file="$work/offset"
# A new file renamed over the old one: the shim never reads a half-written offset.
set_offset() { echo "$1" >"$offset_file.new"; mv "$offset_file.new" "$offset_file"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# demo NAME COMMAND...: starts COMMAND (a server taking --port/--bind/--dir) under the shim,
# sets a lock for 30 s, steps the clock a year forward and looks at the lock again.
demo() {
  local name=$1 port
  shift
  port=$(free_port)
  set_offset 0
  mkdir "$work/$name"
  LD_PRELOAD="$work/libclockshift.so" TUMBLER_CLOCK_OFFSET_FILE="$offset_file" \
    "$@" --port "$port" --bind 127.0.0.1 --dir "$work/$name" >"$work/$name.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    redis-cli -p "$port" PING >/dev/null 2>&1 && break
    sleep 0.05
  done
  redis-cli -p "$port" PING >/dev/null 2>&1 || { echo "$name did not start:" >&2; cat "$work/$name.log" >&2; exit 1; }
  cli() {
    echo "$name> $*"
    redis-cli --no-raw -p "$port" "$@" | sed 's/^/  /'
  }
  echo "=== $name ($1)"
  cli TIME
  cli SET lock owner-1 NX PX 30000
  cli PTTL lock
  cli PEXPIRETIME lock
  echo "--- the wall clock steps forward one year (offset file: 31536000 s)"
  set_offset 31536000
  cli TIME
  cli GET lock
  cli PTTL lock
  cli PEXPIRETIME lock
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  echo
}

demo redis-server redis-server --save "" --appendonly no
demo tumbler-server "$tumbler"
