#!/usr/bin/env bash
# The benchmark suite: kubedp against the bare kernel path and kube-proxy's
# iptables and nftables rules, interleaved A B A B for 10 rounds (or --short:
# 3 quick rounds, as CI runs it). Prints the table and writes every round to
# build/bench-results.json. Needs root.
#   ./bench/run.sh [--short] [--rounds N] [--seconds S] [--no-throughput] [--no-scale]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh >/dev/null
./scripts/build.sh >/dev/null
exec build/bin/kdp-bench --json build/bench-results.json "$@"
