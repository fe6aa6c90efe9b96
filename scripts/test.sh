#!/usr/bin/env bash
# Runs every test on a fresh machine: unit tests, in-memory end-to-end tests and integration tests against
# moto, which scripts/with-moto.sh installs (local venv) and starts on a free loopback port.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh -p shared).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
log=target/test-output.log
set +e
bash scripts/with-moto.sh cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line with the totals over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
