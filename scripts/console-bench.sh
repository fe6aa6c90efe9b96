#!/usr/bin/env bash
# The console over a big local store: fills a fresh SQLite file through `esimhooks serve` (ESIMS eSIMs x EVENTS
# signed Roamify deliveries), then times the console's timeline and fleet pages on it. A measurement only.
#   bash scripts/console-bench.sh [ESIMS] [EVENTS]      (default 10000 x 10 = 100,000 stored events)
set -euo pipefail
cd "$(dirname "$0")/.."
esims=${1:-10000} events=${2:-10}
cargo build --release -q -p esimhooks-cli --bin esimhooks --example console_bench
scratch=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$scratch"' EXIT
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; }
ROAMIFY_SECRETS=bench-secret target/release/esimhooks serve --addr 127.0.0.1:18095 --db "$scratch/console.db" >/dev/null 2>&1 &
pids+=($!)
target/release/esimhooks console --addr 127.0.0.1:18096 --db "$scratch/console.db" >/dev/null 2>&1 &
pids+=($!)
wait_port 18095; wait_port 18096
target/release/examples/console_bench http://127.0.0.1:18095 http://127.0.0.1:18096 bench-secret "$esims" "$events"
echo "store file: $(du -h "$scratch/console.db" | cut -f1) (+ WAL $(du -h "$scratch/console.db-wal" 2>/dev/null | cut -f1))"
