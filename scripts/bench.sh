#!/usr/bin/env bash
# Every figure in docs/benchmarks.md, from one command. Measurements only: nothing here asserts on time.
#  1. criterion: verify + normalize per provider and over all fixtures, the API Gateway adapter, the full
#     in-process pipeline with the in-memory store;
#  2. handling latency through DynamoDB + SNS on moto (release build);
#  3. cold start (process start to the first Runtime API poll) and peak memory of the eSIM Access bootstrap under
#     load, next to a hello-world lambda_http function built with the same profile;
#  4. bootstrap sizes (x86_64 here; arm64 from scripts/build-lambdas.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo bench -p shared --bench deliveries -- --warm-up-time 1 --measurement-time 4 2>&1 | grep -E "^(verify|api|full)|time:"
cargo build --release -p esimaccess -p hello-lambda
cargo build -p esimhooks-cli
cargo build --release -p shared --example moto_latency

bash scripts/with-moto.sh bash -c '
  set -euo pipefail
  target/release/examples/moto_latency 300
  export AWS_ENDPOINT_URL="$ESIMHOOKS_TEST_ENDPOINT"
  eval "$(target/debug/esimhooks init --table coldstart --topic coldstart)"
  for run in 1 2 3; do
    ESIMACCESS_SECRETS=esimaccess-fixture-token-A python3 scripts/coldstart.py target/release/esimaccess 0
  done
  ESIMACCESS_SECRETS=esimaccess-fixture-token-A python3 scripts/coldstart.py target/release/esimaccess 300 events/esimaccess/*.json
  for run in 1 2 3; do python3 scripts/coldstart.py target/release/hello-lambda 0; done
  python3 scripts/coldstart.py target/release/hello-lambda 300
'
ls -l target/release/esimaccess target/release/hello-lambda | awk "{print \$5, \$9}"
