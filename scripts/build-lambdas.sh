#!/usr/bin/env bash
# Builds every Lambda function for arm64 (provided.al2023) with cargo-lambda, as `sam build` does, and fails if
# a bootstrap is missing. Installs what it needs: cargo-lambda and zig (PyPI, into .venv) and the Rust
# aarch64 standard library (rustup). Prints each bootstrap's size.
#   scripts/build-lambdas.sh           the release profile, as deployed (the sizes in docs/benchmarks.md)
#   scripts/build-lambdas.sh --quick   CI: the same code for the same target in the dev profile (unoptimized),
#                                      to prove every function builds for arm64 in a fraction of the time
set -euo pipefail
cd "$(dirname "$0")/.."
profile=(--release)
tools_only=""
case "${1:-}" in
  --quick) profile=() ;;
  # Only what the build needs installed (cargo-lambda, zig, the aarch64 standard library): CI fetches them
  # while other stages build.
  --tools-only) tools_only=1 ;;
esac

# One webhook binary per provider (functions/webhooks/src/bin/<provider>.rs), then the other functions.
mapfile -t providers < <(ls functions/webhooks/src/bin | sed 's/\.rs$//')
functions=("${providers[@]}" expiry-sweep callbacks callbacks-sender customers customers-sender reconcile)
[ -x .venv/bin/python ] || python3 -m venv .venv
if ! [ -x .venv/bin/cargo-lambda ] || ! .venv/bin/python -c 'import ziglang' 2>/dev/null; then
  .venv/bin/pip install --quiet --disable-pip-version-check "cargo-lambda==1.9.2" "ziglang==0.17.1"
fi
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  for attempt in 1 2 3; do
    rustup target add aarch64-unknown-linux-gnu && break
    [ "$attempt" = 3 ] && { echo "build-lambdas: could not install the aarch64 standard library" >&2; exit 1; }
    sleep 5
  done
fi

[ -z "$tools_only" ] || exit 0

packages=(-p webhooks -p expiry-sweep -p callbacks -p customers -p reconcile)
rm -rf target/lambda
PATH="$PWD/.venv/bin:$PATH" cargo lambda build "${profile[@]}" --arm64 "${packages[@]}"

missing=0
for f in "${functions[@]}"; do
  bootstrap="target/lambda/$f/bootstrap"
  # An ELF executable whose e_machine (offset 18) is 183, AArch64.
  if [ -s "$bootstrap" ] && python3 -c 'import sys; h = open(sys.argv[1], "rb").read(20); sys.exit(h[:4] != b"\x7fELF" or h[18] != 183)' "$bootstrap"; then
    printf 'bootstrap %-14s %8d bytes\n' "$f" "$(stat -c %s "$bootstrap")"
  else
    echo "build-lambdas: $bootstrap is missing or not arm64" >&2
    missing=1
  fi
done
exit "$missing"
