#!/usr/bin/env bash
# What a mass expiry costs the commands that take the gate (a script that runs alone, EXEC):
# loads N keys that all expire at the same millisecond, and from 300 ms before it runs 20,000
# EVALs of a script that runs alone (`return redis.call('dbsize')`, one client), then prints the
# server's own time for them (INFO commandstats: gate waits included, the network and the
# client's scheduling not) and the client's latency summary; also with the deadline a minute
# away, for the quiet figure. For comparing tumbler builds (A/B), alternating runs: redis-server
# runs a script with no gate to wait for, and its client-side figures on a VM are dominated by
# the machine's own stalls.
#
# Usage: scripts/bench-backlog.sh [--keys 1000000] [--runs 3] SERVER_BINARY...
# Needs redis-cli, redis-benchmark, python3, taskset (server on CPU 0, clients on CPU 1).
set -euo pipefail

keys=1000000 runs=3 bins=()
while (($#)); do
  case $1 in
    --keys | --runs)
      (($# >= 2)) || { echo "$1 needs a value (see --help)" >&2; exit 2; }
      if [ "$1" = --keys ]; then keys=$2; else runs=$2; fi
      shift 2 ;;
    -h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    *) [ -x "$1" ] || { echo "not an executable: $1" >&2; exit 2; }; bins+=("$1"); shift ;;
  esac
done
((${#bins[@]})) || { echo "name at least one tumbler-server binary (see --help)" >&2; exit 2; }
[[ $keys =~ ^[1-9][0-9]*$ && $runs =~ ^[1-9][0-9]*$ ]] || { echo "--keys and --runs take positive numbers" >&2; exit 2; }

pid= dir=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "$dir" ] && rm -rf "$dir"
  pid= dir=
}
trap cleanup EXIT

# one BINARY QUIET: one run, one line of results.
one() {
  local bin=$1 quiet=$2 port due left before after
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  dir=$(mktemp -d)
  taskset -c 0 "$bin" --port "$port" --dir "$dir" --save '' >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  due=$(($(date +%s%3N) + 5000))
  ((quiet)) && due=$((due + 60000))
  python3 - "$keys" "$due" <<'EOF' | taskset -c 1 redis-cli -p "$port" --pipe >/dev/null
import sys
n, due = int(sys.argv[1]), sys.argv[2].encode()
out = sys.stdout.buffer
for i in range(n):
    k = b"backlog:%d" % i
    out.write(b"*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$%d\r\n%s\r\n" % (len(k), k, len(due), due))
EOF
  left=$((due - (quiet ? 60000 : 0) - 300 - $(date +%s%3N)))
  ((left > 0)) && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
  redis-cli -p "$port" config resetstat >/dev/null
  before=$(redis-cli -p "$port" info stats | tr -d '\r' | sed -n 's/^expired_keys://p')
  taskset -c 1 redis-benchmark -p "$port" -c 1 -n 20000 EVAL "return redis.call('dbsize')" 0 >"$dir/eval.txt" 2>&1
  after=$(redis-cli -p "$port" info stats | tr -d '\r' | sed -n 's/^expired_keys://p')
  local usec client
  usec=$(redis-cli -p "$port" info commandstats | tr -d '\r' | sed -n 's/^cmdstat_eval:calls=[0-9]*,usec=\([0-9]*\),.*/\1/p')
  client=$(tr '\r' '\n' <"$dir/eval.txt" | grep -A2 'latency summary' | tail -1 | awk '{ print $3, $5, $6 }')
  printf '%-40s %-6s %9s %12s   %s\n' "$bin" "$( ((quiet)) && echo quiet || echo mass)" "$((after - before))" "$usec" "$client"
  cleanup
}

printf '%-40s %-6s %9s %12s   %s\n' server run expired 'server usec' 'client p50 p99 max (ms)'
for r in $(seq "$runs"); do
  for b in "${bins[@]}"; do one "$b" 0; done
  for b in "${bins[@]}"; do one "$b" 1; done
done
