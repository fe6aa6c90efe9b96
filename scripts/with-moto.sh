#!/usr/bin/env bash
# Runs a command with moto (DynamoDB, SNS, SQS emulator) listening on a free loopback port: installs moto into
# a local venv when missing, starts it, exports ESIMHOOKS_TEST_ENDPOINT, ESIMHOOKS_TEST_HTTP_CAPTURE (SNS's
# HTTPS deliveries, one JSON line each) and dummy credentials, runs the command, and stops moto. Usage: scripts/with-moto.sh CMD [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

venv=".venv"
moto_pin='moto[dynamodb]==5.2.5'
# standardwebhooks: the reference verifier partner callbacks are checked against.
if ! "$venv/bin/python" -c 'import moto, flask, flask_cors, standardwebhooks' >/dev/null 2>&1; then
  echo "with-moto.sh: installing $moto_pin and standardwebhooks into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$moto_pin" flask flask-cors "standardwebhooks==1.1.0"
fi

# The npm standardwebhooks package checks callbacks too where Node is present (skipped, said so, where not).
node_verifier="target/node-verifier"
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  if [ ! -d "$node_verifier/node_modules/standardwebhooks" ]; then
    mkdir -p "$node_verifier"
    npm install --prefix "$node_verifier" --no-audit --no-fund --silent standardwebhooks@1.1.1 >&2 \
      || echo "with-moto.sh: npm could not install standardwebhooks; callbacks are checked with Python only" >&2
  fi
  if [ -d "$node_verifier/node_modules/standardwebhooks" ]; then
    export ESIMHOOKS_TEST_NODE_MODULES="$PWD/$node_verifier/node_modules"
  fi
else
  echo "with-moto.sh: no Node here; callbacks are checked with the Python standardwebhooks only" >&2
fi

port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
# SNS deliveries to HTTPS subscribers (partner callbacks) are captured in this file, not sent (see the script).
capture="$PWD/target/moto-http-$port.jsonl"
: > "$capture"
moto_log="target/moto-$port.log"
MOTO_HTTP_CAPTURE="$capture" "$venv/bin/python" scripts/moto_server.py -H 127.0.0.1 -p "$port" > "$moto_log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT

endpoint="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$endpoint/moto-api/')" >/dev/null 2>&1; then
    break
  fi
  kill -0 "$moto_pid" 2>/dev/null || { echo "with-moto.sh: moto failed to start:" >&2; cat "$moto_log" >&2; exit 1; }
  sleep 0.1
done
echo "with-moto.sh: moto listening on $endpoint" >&2

# The integration tests read this endpoint; the credentials are moto's dummies, never real ones.
export ESIMHOOKS_TEST_ENDPOINT="$endpoint" ESIMHOOKS_TEST_HTTP_CAPTURE="$capture"
export ESIMHOOKS_TEST_PYTHON="$PWD/$venv/bin/python"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN

"$@"
