#!/usr/bin/env bash
# Runs every tumbler test: unit tests, the differential tests against a real redis-server,
# redis-cli / redis-benchmark tests and the process tests. Installs what is missing first
# (Debian packages), so a fresh Debian machine with Rust needs nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v redis-benchmark >/dev/null 2>&1 || need+=(redis-tools)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v stdbuf >/dev/null 2>&1 || need+=(coreutils)
command -v cc >/dev/null 2>&1 || need+=(gcc)
if ((${#need[@]})); then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "Installing test dependencies: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The process tests run the real binary: build it first so they do not each wait for it.
cargo build --workspace --bins
cargo test --workspace "$@"
