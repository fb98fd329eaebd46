#!/usr/bin/env bash
# Redlock lock cycles (acquire, release) measured with `tumbler bench`: a five-node tumbler
# quorum (`tumbler quorum up`) against five redis-server processes, and one node against one,
# in the same run, alternating rounds, medians. Uncontended: every client its own lock name;
# contended: all clients on one name (refused attempts back off 0.5 ms and are not cycles).
# On two or more cores the servers share CPU 0 and the load generator gets CPU 1 (--no-pin to
# let the scheduler place everything).
#
# Usage: scripts/bench-quorum.sh [--rounds 5] [--duration 2s] [--clients 16] [--no-pin] [--no-build]
#        [--bin-dir DIR]   (DIR holds tumbler and tumbler-server; implies --no-build)
# Needs redis-server (7.0.15 is the reference), jq, and a Rust toolchain unless --no-build.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=5 duration=2s clients=16 pin=1 build=1 bin=
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --no-pin) pin=0; shift ;;
    --no-build) build=0; shift ;;
    --bin-dir) bin=$2 build=0; shift 2 ;;
    -h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done

for tool in redis-server redis-cli jq; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install redis-server jq)" >&2; exit 1; }
done
if ((build)); then
  cargo build --release --bin tumbler --bin tumbler-server
fi
bin=${bin:-${CARGO_TARGET_DIR:-target}/release}
[ -x "$bin/tumbler" ] && [ -x "$bin/tumbler-server" ] || { echo "no tumbler and tumbler-server in $bin (build them, or see --bin-dir)" >&2; exit 1; }

server_cpu=() bench_cpu=()
if ((pin)) && command -v taskset >/dev/null && (($(nproc) >= 2)); then
  server_cpu=(taskset -c 0) bench_cpu=(taskset -c 1)
fi

work=$(mktemp -d)
redis_pids=()
cleanup() {
  "$bin/tumbler" quorum down --dir "$work/tumbler" >/dev/null 2>&1 || true
  for p in "${redis_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Ten free ports in a row, below the usual ephemeral range (32768+) so no outgoing connection
# holds one: five for `tumbler quorum up` (consecutive), five for redis.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=
for _ in $(seq 50); do
  b=$((20000 + RANDOM % 12000))
  ok=1
  for p in $(seq "$b" $((b + 9))); do listening "$p" && { ok=0; break; }; done
  ((ok)) && { base=$b; break; }
done
[ -n "$base" ] || { echo "no ten free ports found" >&2; exit 1; }

"${server_cpu[@]}" "$bin/tumbler" quorum up --detach --nodes 5 --base-port "$base" \
  --dir "$work/tumbler" --server "$bin/tumbler-server" >/dev/null
for p in $(seq $((base + 5)) $((base + 9))); do
  mkdir -p "$work/redis$p"
  "${server_cpu[@]}" redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$work/redis$p" --logfile "$work/redis$p/redis.log" &
  redis_pids+=($!)
done
for p in $(seq $((base + 5)) $((base + 9))); do
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
done

urls() { # first-port count
  local out=() p
  for p in $(seq "$1" $(($1 + $2 - 1))); do out+=("redis://127.0.0.1:$p"); done
  local IFS=,
  echo "${out[*]}"
}

# Workloads: name, nodes, keys, extra flags. The fenced row has no redis counterpart.
workloads=(
  "5 nodes, uncontended|5|$clients|"
  "5 nodes, contended|5|1|"
  "1 node, uncontended|1|$clients|"
  "1 node, contended|1|1|"
  "5 nodes, uncontended, fenced|5|$clients|--fenced"
)

results=$work/results.tsv
: >"$results"
run() { # server workload-index round
  local server=$1 name nodes keys extra first out
  IFS='|' read -r name nodes keys extra <<<"${workloads[$2]}"
  [ "$server" = redis ] && [ -n "$extra" ] && return 0
  first=$base
  [ "$server" = redis ] && first=$((base + 5))
  # A run that ends in errors only (exit status 69) still prints its JSON; keep going.
  # shellcheck disable=SC2086 # $extra is zero or one flag
  out=$("${bench_cpu[@]}" "$bin/tumbler" bench --nodes "$(urls "$first" "$nodes")" --clients "$clients" \
    --keys "$keys" --duration "$duration" --prefix "bench:$3:$2:" --json $extra) || true
  [ -n "$out" ] || { echo "round $3: $server, ${name}: no result" >&2; return 0; }
  jq -r --arg w "$2" --arg s "$server" \
    '[$w, $s, .cycles_per_sec, .acquire_us.p50, .acquire_us.p99, .acquire_us.p999, .cycle_us.p50, .cycle_us.p99, .cycle_us.p999, .refused, .errors] | @tsv' \
    <<<"$out" >>"$results"
}

echo "tumbler-bench: $rounds rounds of $duration, $clients clients; ${server_cpu[*]:-no pinning}" \
  "${bench_cpu[*]:+(bench: ${bench_cpu[*]})}; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for r in $(seq "$rounds"); do
  for w in "${!workloads[@]}"; do
    # Alternate who goes first, so drift over the run does not favour one side.
    if ((r % 2)); then order=(tumbler redis); else order=(redis tumbler); fi
    for s in "${order[@]}"; do run "$s" "$w" "$r"; done
  done
  echo "round $r of $rounds done" >&2
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { # workload server column
  awk -F'\t' -v w="$1" -v s="$2" -v c="$3" '$1 == w && $2 == s { print $c }' "$results" | median
}

printf '%-30s %-8s %10s %9s %9s %9s %9s %9s %9s %6s %7s\n' workload server cycles/s \
  "acq p50" "acq p99" "acq p99.9" "cyc p50" "cyc p99" "cyc p99.9" errors ratio
for w in "${!workloads[@]}"; do
  IFS='|' read -r name _ <<<"${workloads[$w]}"
  redis_cps=$(col "$w" redis 3)
  for s in redis tumbler; do
    cps=$(col "$w" "$s" 3)
    [ "$cps" = nan ] && continue
    ratio=
    [ "$s" = tumbler ] && [ "$redis_cps" != nan ] && ratio=$(awk -v a="$cps" -v b="$redis_cps" 'BEGIN { printf "%.2f", a / b }')
    # Latencies in ms (tumbler bench reports µs).
    errs=$(awk -F'\t' -v w="$w" -v s="$s" '$1 == w && $2 == s { e += $11 } END { print e + 0 }' "$results")
    ms=()
    for c in 4 5 6 7 8 9; do ms+=("$(col "$w" "$s" "$c" | awk '{ print $1 / 1000 }')"); done
    printf '%-30s %-8s %10.0f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %6s %7s\n' "$name" "$s" "$cps" "${ms[@]}" "$errs" "$ratio"
  done
done
echo "medians of $rounds rounds; latencies in ms; errors: failed operations summed over the rounds;" \
  "ratio: tumbler/redis cycles/s; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
