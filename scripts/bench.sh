#!/usr/bin/env bash
# Every figure in docs/benchmarks.md, from one command. Measurements only: nothing here asserts on time.
#  1. criterion: verify + normalize per provider and over all fixtures, the API Gateway adapter, the full
#     in-process pipeline with the in-memory store;
#     the same, fixture by fixture (best time and heap allocations per delivery: examples/fixture_costs.rs);
#  2. handling latency through DynamoDB + SNS on moto (release build);
#  3. cold start (process start to the first Runtime API poll) and peak memory of the eSIM Access bootstrap under
#     load, next to a hello-world lambda_http function built with the same profile;
#  4. end-to-end load: `esimhooks serve` taking signed deliveries at a fixed concurrency over HTTP, with the
#     embedded SQLite store and with DynamoDB + SNS on moto (throughput, p50/p90/p99, the server's peak RSS);
#  5. bootstrap sizes (x86_64 here; arm64 from scripts/build-lambdas.sh);
#  6. the console over a local store of 100,000 events (scripts/console-bench.sh: timeline, overview, fleet pages);
#  7. AWS calls, sequential round trips and DynamoDB write units per delivery through the real bootstraps on moto
#     (scripts/write-units.py, every sample event and its exact copy);
#  8. peak write units per second per partition key value at 10,000 deliveries/s with 5x bursts, through the
#     store's own key functions (shared/examples/peak_keys.rs);
#  9. how late low-data alerts come with webhooks only and with asking (reconcile), a million eSIMs over two
#     days, and the API calls a day against each provider's limit, as the rule and the pipeline are
#     (shared/examples/reconcile_sim.rs; dev profile, about 10 minutes), then again with every eSIM named at its
#     sale (`--named`: the customer directory or an order webhook names it before any usage webhook).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo bench -p shared --bench deliveries -- --warm-up-time 1 --measurement-time 4 2>&1 | grep -E "^(verify|api|full)|time:"
cargo run --release -q -p shared --example fixture_costs -- 5 20000
cargo run --release -q -p shared --example peak_keys
cargo run -q -p shared --example reconcile_sim
cargo run -q -p shared --example reconcile_sim -- --named
cargo build --release -p webhooks
cargo build --release -p hello-lambda
cargo build -p esimhooks-cli
cargo build --release -p shared --example moto_latency
cargo build --release -p esimhooks-cli --bin esimhooks --example load

# Starts `esimhooks serve` with the given backend arguments, loads it, prints its peak RSS, stops it.
load_server() {
  local port=18093 url count="$1"; shift
  url="http://127.0.0.1:$port"
  ROAMIFY_SECRETS=load-secret target/release/esimhooks serve --addr "127.0.0.1:$port" "$@" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  for concurrency in 1 8 32; do target/release/examples/load "$url" load-secret "$concurrency" "$count"; done
  echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
export -f load_server
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
echo "load, embedded SQLite store:"
load_server 2000 --db "$scratch/load.db"

bash scripts/with-moto.sh bash -c '
  set -euo pipefail
  target/release/examples/moto_latency 300
  # What each sample delivery costs DynamoDB through its real bootstrap: calls, round trips, write units.
  .venv/bin/python3 scripts/write-units.py | tail -4
  export AWS_ENDPOINT_URL="$ESIMHOOKS_TEST_ENDPOINT"
  eval "$(target/debug/esimhooks init --table coldstart --topic coldstart)"
  # Ready time as in Lambda: no endpoint override (so the clients trust only the AWS roots), region set.
  for run in 1 2 3 4 5; do
    env -u AWS_ENDPOINT_URL AWS_REGION=us-east-1 ESIMACCESS_SECRETS=esimaccess-fixture-token-A \
      python3 scripts/coldstart.py target/release/esimaccess 0
  done
  ESIMACCESS_SECRETS=esimaccess-fixture-token-A python3 scripts/coldstart.py target/release/esimaccess 300 events/esimaccess/*.json
  for run in 1 2 3 4 5; do python3 scripts/coldstart.py target/release/hello-lambda 0; done
  python3 scripts/coldstart.py target/release/hello-lambda 300
  echo "load, DynamoDB + SNS on moto:"
  load_server 600 --backend aws
'
ls -l target/release/esimaccess target/release/hello-lambda | awk "{print \$5, \$9}"
bash scripts/console-bench.sh 10000 10
