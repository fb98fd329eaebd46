#!/usr/bin/env bash
# Runs every tumbler test: unit tests, the differential tests against a real redis-server,
# redis-cli / redis-benchmark tests, the process tests and the lock client libraries. Installs
# what is missing first (Debian packages, then the pinned client libraries from PyPI, npm and
# crates.io into tests/clients/), so a fresh Debian machine with Rust needs nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v redis-benchmark >/dev/null 2>&1 || need+=(redis-tools)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v stdbuf >/dev/null 2>&1 || need+=(coreutils)
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v spin >/dev/null 2>&1 || need+=(spin)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# For the benchmark harness' smoke run (tests/it/harness.rs): lock-cycle tables, callgrind.
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
# For tests/clients: Python with venv (Debian splits ensurepip into python3-venv) and Node.
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if ((${#need[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "Installing test dependencies: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The lock client libraries of tests/it/clients.rs, at the versions pinned in tests/clients/.
clients=tests/clients
[ -x "$clients/python/.venv/bin/python" ] || python3 -m venv "$clients/python/.venv"
"$clients/python/.venv/bin/python" -m pip install -q --disable-pip-version-check \
  -r "$clients/python/requirements.txt"
(cd "$clients/node" && npm ci --no-audit --no-fund --loglevel=error)
cargo build --locked --manifest-path "$clients/rust/Cargo.toml" --target-dir "$clients/rust/target"

# The process tests run the real binary: build it first so they do not each wait for it.
cargo build --workspace --bins
cargo test --workspace "$@"
