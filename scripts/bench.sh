#!/usr/bin/env bash
# The whole performance comparison in one command: tumbler-server against redis-server 7.0.15,
# each table printed as it completes and everything kept in a results file (named at the end).
#
#   1. requests at -P 16 and at -P 1, every workload, servers pinned to CPU 0 and the load
#      to CPU 1 (`compare --floor`: throughput, p99 and server CPU per request, with their
#      ratios, and the CPU per request of servers that only answer: the floor)
#   2. the lock workloads again unpinned (`compare --no-pin`)
#   3. memory per lock key with 1M keys (`compare --memory`)
#   4. expiry lag of 1M keys with TTLs spread over 2 s (`compare --expiry`)
#   5. GET p99 during an expiry storm of 100k keys a second (`compare --storm`)
#   6. Redlock lock cycles, one node and the five-node quorum (`scripts/bench-quorum.sh`)
#   7. instructions and calls per request under callgrind (`scripts/bench-instructions.sh`;
#      skipped, saying so, without valgrind)
#   8. microbenchmarks and the embedded (no socket) benchmark (`micro`, `embedded`)
#
# About 30 minutes on a 2-core machine; run it on an otherwise idle one. `--quick` runs every
# part with tiny sizes (a minute or two): it checks the harness, its figures mean nothing.
#
# Usage: scripts/bench.sh [--quick] [--out FILE] [--no-build] [--bin-dir DIR]
#   --out FILE     the results file (default target/bench/<commit>-<time>.txt)
#   --bin-dir DIR  where tumbler-server, tumbler, compare, floor, micro and embedded are (default:
#                  the release build, built first unless --no-build)
# Needs redis-server and redis-benchmark (7.0.15 is the reference), jq, and valgrind for part 7.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0 build=1 bin= out=
while (($#)); do
  case $1 in
    --quick) quick=1; shift ;;
    --no-build) build=0; shift ;;
    --bin-dir | --out)
      (($# >= 2)) || { echo "$1 needs a value (see --help)" >&2; exit 2; }
      if [ "$1" = --out ]; then out=$2; else bin=$2 build=0; fi
      shift 2 ;;
    -h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
for tool in redis-server redis-cli redis-benchmark jq; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install redis-server jq)" >&2; exit 1; }
done
if ((build)); then
  cargo build --release -p tumbler-server -p tumbler-cli -p tumbler-benches
fi
bin=$(realpath "${bin:-${CARGO_TARGET_DIR:-target}/release}")
for b in tumbler-server tumbler compare floor micro embedded; do
  [ -x "$bin/$b" ] || { echo "no $b in $bin (build it, or see --bin-dir)" >&2; exit 1; }
done
if [ -z "$out" ]; then
  mkdir -p target/bench
  out=target/bench/$(git rev-parse --short HEAD 2>/dev/null || echo unknown)-$(date +%Y%m%d-%H%M%S).txt
fi
: >"$out"

if ((quick)); then
  p16=(--rounds 1 --requests 2000) p1=(--rounds 1 --requests 2000) unpinned=(--rounds 1 --requests 2000)
  memory=2000 expiry=(--expiry 2000 --expiry-after 200) storm=(--storm 2000 --rounds 1 --requests 2000)
  quorum=(--rounds 1 --duration 200ms --clients 2) instructions=(--requests 2000 --workloads set-nx-px)
  micro=(--rounds 1 --timers 10000) embedded=(--rounds 1 --requests 1000)
else
  p16=(--rounds 5 --requests 1000000) p1=(--rounds 5 --requests 200000) unpinned=(--rounds 3)
  memory=1000000 expiry=(--expiry 1000000) storm=(--storm 100000 --rounds 7)
  quorum=(--rounds 5 --duration 2s --clients 16)
  instructions=(--requests 100000 --workloads set-nx-px,get,del,pexpire,evalsha-cad)
  micro=(--rounds 21) embedded=(--rounds 7 --requests 200000)
fi
all=set-nx-px,get,del,pexpire,evalsha-cad,delifeq,ping-inline,mset,mget
locks=set-nx-px,get,del,pexpire,evalsha-cad,delifeq
unpinned_requests=(--requests 1000000)
((quick)) && unpinned_requests=()

# part TITLE COMMAND...: runs one part, its output (both streams) to the terminal and the file.
failed=()
part() {
  local title=$1
  shift
  printf '\n== %s\n$ %s\n' "$title" "${*#"$bin/"}" | tee -a "$out"
  if ! "$@" 2>&1 | tee -a "$out"; then
    echo "== FAILED: $title" | tee -a "$out"
    failed+=("$title")
  fi
}

started=$(date +%s)
{
  echo "tumbler $(git describe --always --dirty 2>/dev/null || echo '?') against $(redis-server --version)"
  echo "$(nproc) cores, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%F %T') UTC"
} | tee -a "$out"
part "requests, -P 16, pinned" "$bin/compare" "${p16[@]}" --pipeline 16 --workloads "$all" --floor
part "requests, -P 1, pinned" "$bin/compare" "${p1[@]}" --pipeline 1 --workloads "$all" --floor
part "requests, -P 16, unpinned" "$bin/compare" "${unpinned[@]}" "${unpinned_requests[@]}" --pipeline 16 --workloads "$locks" --no-pin
part "requests, -P 1, unpinned" "$bin/compare" "${unpinned[@]}" --pipeline 1 --workloads "$locks" --no-pin
part "memory per lock key" "$bin/compare" --memory "$memory"
part "expiry lag" "$bin/compare" "${expiry[@]}"
part "expiry storm" "$bin/compare" "${storm[@]}"
part "lock cycles" scripts/bench-quorum.sh "${quorum[@]}" --bin-dir "$bin"
if command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then
  part "instructions per request" scripts/bench-instructions.sh "${instructions[@]}" --bin-dir "$bin"
else
  printf '\n== instructions per request: skipped, valgrind is not installed (apt-get install valgrind)\n' | tee -a "$out"
fi
part "microbenchmarks" "$bin/micro" "${micro[@]}"
part "embedded (no socket)" "$bin/embedded" "${embedded[@]}"

echo | tee -a "$out"
echo "took $(($(date +%s) - started)) s; results in $out" | tee -a "$out"
if ((${#failed[@]})); then
  echo "failed: ${failed[*]}" | tee -a "$out" >&2
  exit 1
fi
