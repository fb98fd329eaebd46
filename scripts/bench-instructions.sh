#!/usr/bin/env bash
# User-space instructions per request, tumbler-server against redis-server, counted by
# `valgrind --tool=callgrind` on the real servers under redis-benchmark (50 clients, -P 16,
# keys over 100k). Instruction counts do not depend on how busy the machine is, so this is
# the repeatable complement to `compare`'s CPU time (which also counts the kernel's share).
#
# Each server starts under callgrind, gets 20k SET NX PX to warm up (and keys for the reads),
# then its counters are zeroed, one workload runs, and the counters are dumped before the
# server is shut down (so neither startup nor shutdown is counted).
#
# A second table gives, per request, the calls each server made into its allocator
# (allocations, frees), the clock and the kernel (system calls), and how often it ran a
# connection's handler (wake-ups), from the same counts (scripts/callgrind-calls.py).
#
# Usage: scripts/bench-instructions.sh [--requests 200000] [--workloads set-nx-px,get,evalsha-cad]
#        (also: del, pexpire)
#        [--no-build] [--bin-dir DIR]   (DIR holds tumbler-server; implies --no-build)
# Needs redis-server and redis-benchmark (7.0.15 is the reference), valgrind, a Rust toolchain
# unless --no-build.
set -euo pipefail
cd "$(dirname "$0")/.."

requests=200000 workloads=set-nx-px,get,evalsha-cad build=1 bin=
while (($#)); do
  case $1 in
    --requests) requests=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --bin-dir) bin=$2 build=0; shift 2 ;;
    -h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
for tool in redis-server redis-cli redis-benchmark valgrind callgrind_control; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install redis-server valgrind)" >&2; exit 1; }
done
if ((build)); then
  cargo build --release --bin tumbler-server
fi
bin=$(realpath "${bin:-${CARGO_TARGET_DIR:-target}/release}")
[ -x "$bin/tumbler-server" ] || { echo "no tumbler-server in $bin (build it, or see --bin-dir)" >&2; exit 1; }

work=$(mktemp -d)
vg_pid=
cleanup() {
  [ -n "$vg_pid" ] && kill "$vg_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cad="if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
token=01234567890123456789

# count SERVER WORKLOAD: prints the instructions per request of one workload on one server,
# then its allocations, frees, clock reads and system calls per request.
count() {
  local server=$1 workload=$2 port out
  port=$(free_port)
  out=$work/$server-$workload
  case $server in
    redis) valgrind --tool=callgrind --callgrind-out-file="$out" \
      redis-server --port "$port" --save '' --appendonly no >/dev/null 2>&1 & ;;
    tumbler) valgrind --tool=callgrind --callgrind-out-file="$out" \
      "$bin/tumbler-server" --port "$port" --dir "$work" >/dev/null 2>&1 & ;;
  esac
  vg_pid=$!
  for _ in $(seq 1 150); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.2
  done
  local bench=(redis-benchmark -p "$port" -q -c 50 -P 16 -r 100000)
  "${bench[@]}" -n 20000 SET lock:__rand_int__ "$token" NX PX 600000 >/dev/null
  local cmd
  case $workload in
    set-nx-px) cmd=(SET lock:__rand_int__ "$token" NX PX 30000) ;;
    get) cmd=(GET lock:__rand_int__) ;;
    del) cmd=(DEL lock:__rand_int__) ;;
    pexpire) cmd=(PEXPIRE lock:__rand_int__ 30000) ;;
    evalsha-cad)
      local sha
      sha=$(redis-cli -p "$port" script load "$cad")
      cmd=(EVALSHA "$sha" 1 lock:__rand_int__ "$token") ;;
    *) echo "unknown workload $workload" >&2; exit 2 ;;
  esac
  callgrind_control -z "$vg_pid" >/dev/null 2>&1
  "${bench[@]}" -n "$requests" "${cmd[@]}" >/dev/null
  callgrind_control -d "$vg_pid" >/dev/null 2>&1
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$vg_pid" 2>/dev/null || true
  vg_pid=
  # The dump taken by callgrind_control is the file with the highest count; the final one
  # (shutdown) counts only what came after it.
  local total dump
  dump=$(grep -H '^summary:' "$out".* | sort -t' ' -k2 -n | tail -1 | cut -d: -f1)
  total=$(grep -h '^summary:' "$dump" | awk '{print $2}')
  echo "$((total / requests)) $(python3 scripts/callgrind-calls.py "$requests" "$dump")"
}

declare -A calls
printf '%-12s %12s %12s %7s\n' workload redis tumbler ratio
for w in ${workloads//,/ }; do
  read -r r r_calls < <(count redis "$w")
  read -r t t_calls < <(count tumbler "$w")
  calls[$w]="$r_calls|$t_calls"
  printf '%-12s %12s %12s %7.2f\n' "$w" "$r" "$t" "$(echo "$t / $r" | bc -l)"
done
echo
echo "calls per request"
printf '%-12s %-8s %12s %8s %12s %13s %9s\n' workload server allocations frees 'clock reads' 'system calls' wake-ups
for w in ${workloads//,/ }; do
  IFS='|' read -r r_calls t_calls <<<"${calls[$w]}"
  printf '%-12s %-8s %12s %8s %12s %13s %9s\n' "$w" redis $r_calls
  printf '%-12s %-8s %12s %8s %12s %13s %9s\n' "$w" tumbler $t_calls
done
