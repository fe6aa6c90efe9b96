#!/usr/bin/env bash
# Runs every test on a fresh machine: installs moto (DynamoDB, SNS, SQS emulator) in a local venv when missing,
# starts it on a free loopback port, runs the whole cargo test suite against it, and stops it.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh -p shared).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=".venv"
moto_pin='moto[dynamodb]==5.2.5'
if ! "$venv/bin/python" -c 'import moto, flask, flask_cors' >/dev/null 2>&1; then
  echo "test.sh: installing $moto_pin into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$moto_pin" flask flask-cors
fi

port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT

endpoint="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$endpoint/moto-api/')" >/dev/null 2>&1; then
    break
  fi
  kill -0 "$moto_pid" 2>/dev/null || { echo "test.sh: moto failed to start:" >&2; cat target/moto.log >&2; exit 1; }
  sleep 0.1
done
echo "test.sh: moto listening on $endpoint" >&2

# The integration tests read this endpoint; the credentials are moto's dummies, never real ones.
export ESIMHOOKS_TEST_ENDPOINT="$endpoint"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN

log=target/test-output.log
set +e
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line with the totals over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
