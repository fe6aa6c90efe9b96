#!/usr/bin/env bash
# Runs every test on a fresh machine: unit tests, in-memory end-to-end tests and integration tests against
# moto, which scripts/with-moto.sh installs (local venv) and starts on a free loopback port.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh -p shared).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target

# The console's browser test drives Debian's Chromium with playwright-core (no browser download); both are
# installed here when missing, Chromium as a system package (apt-get, with sudo when not root; only what it
# depends on, nothing it merely recommends). Its screenshots land in target/console-screenshots/.
# ESIMHOOKS_TEST_BROWSER=skip installs neither and runs every other test; the browser test says it skipped.
skipped=""
if [ "${ESIMHOOKS_TEST_BROWSER:-}" = skip ]; then
  skipped=" (console browser test skipped: ESIMHOOKS_TEST_BROWSER=skip)"
  echo "test.sh: ESIMHOOKS_TEST_BROWSER=skip: no Chromium installed, the console's browser test is skipped" >&2
else
  if ! command -v chromium >/dev/null 2>&1; then
    echo "test.sh: installing Debian's chromium (a system package) for the console's browser test;" \
      "ESIMHOOKS_TEST_BROWSER=skip runs the other tests without it" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >&2
  fi
  browser="target/browser-test"
  if [ ! -d "$browser/node_modules/playwright-core" ]; then
    mkdir -p "$browser"
    npm install --prefix "$browser" --no-audit --no-fund --silent playwright-core@1.65.1 >&2
  fi
  export ESIMHOOKS_TEST_BROWSER="$PWD/$browser/node_modules"
fi

log=target/test-output.log
set +e
if [ "$#" -gt 0 ]; then
  bash scripts/with-moto.sh cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
else
  # The two longest tests are each bound by moto's one Python core: they run on a moto of their own beside
  # all the others (which skip them), so both cores work. Everything is built once first.
  slow=(layout::sharded_listings_return_the_rows_of_the_in_memory_store notify::a_thousand_concurrent_copies_send_one_sms_and_one_email)
  skip=()
  for name in "${slow[@]}"; do skip+=(--skip "$name"); done
  cargo test --workspace --locked --no-run 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  # moto is installed once, before two copies of it start side by side.
  if [ "$status" -eq 0 ]; then
    bash scripts/with-moto.sh true 2>&1 | tee -a "$log"
    status=${PIPESTATUS[0]}
  fi
  if [ "$status" -eq 0 ]; then
    slow_log=target/test-output-slow.log
    bash scripts/with-moto.sh cargo test --workspace --locked --no-fail-fast -- --exact "${slow[@]}" > "$slow_log" 2>&1 &
    slow_pid=$!
    bash scripts/with-moto.sh cargo test --workspace --locked --no-fail-fast -- "${skip[@]}" 2>&1 | tee -a "$log"
    status=${PIPESTATUS[0]}
    wait "$slow_pid"
    slow_status=$?
    echo "== the two longest tests, run beside the others:" | tee -a "$log"
    grep -E "^(test |---- |thread )|panicked" "$slow_log" | grep -v "^test result: ok. 0 passed; 0 failed" | tee -a "$log"
    [ "$slow_status" -eq 0 ] || { status=$slow_status; cat "$slow_log"; }
  fi
fi
set -e
# One closing line with the totals over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed%s\n", p, f, skipped }' skipped="$skipped" "$log"
exit "$status"
