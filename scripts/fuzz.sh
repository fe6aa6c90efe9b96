#!/usr/bin/env bash
# Fuzzes every target in fuzz/ for SECONDS each (default 60): every provider's verify + normalize (`providers`,
# the first input byte picks the provider), eSIM Go's and Airalo's extra paths, and the Lambda request adapter
# with the whole service behind it. Builds with the nightly toolchain and libFuzzer's
# coverage instrumentation (what `cargo fuzz` does, without installing it), seeds from fixtures/ and events/,
# keeps what it learns in fuzz/corpus/, and fails on any crash (the input is saved in fuzz/artifacts/).
#   scripts/fuzz.sh 20          # CI
#   scripts/fuzz.sh 600         # by hand, longer
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -vx esimhooks-fuzz)

python3 - <<'PY'
import json, pathlib
root = pathlib.Path(".")
headers = {"esimgo": "x-signature-sha256", "airalo": "airalo-signature"}
providers = sorted(p.name for p in (root / "fixtures").iterdir() if p.is_dir())
def credential(f):
    """What the delivery authenticated with: its URL token, or its first header beyond content-type."""
    token = (f.get("auth") or {}).get("url_token")
    if token:
        return token.encode()[:255]
    given = {k: v for k, v in f["request"]["headers"].items() if k not in ("content-type", "user-agent")}
    return next(iter(given.values()), "").encode()[:255]
for index, provider in enumerate(providers):
    for path in sorted((root / "fixtures" / provider).glob("*.json")):
        f = json.loads(path.read_text())
        head, body = credential(f), f["request"]["body"].encode()
        out = root / "fuzz/seeds/providers"
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{provider}-{path.stem}").write_bytes(bytes([index, len(head)]) + head + body)
        if provider in headers:
            out = root / "fuzz/seeds" / provider
            out.mkdir(parents=True, exist_ok=True)
            (out / path.stem).write_bytes(bytes([len(head)]) + head + body)
out = root / "fuzz/seeds/request_adapter"
out.mkdir(parents=True, exist_ok=True)
for path in sorted(root.glob("events/*/*.json")):
    (out / f"{path.parent.name}-{path.stem}").write_bytes(path.read_bytes())
PY

host=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
(cd fuzz && cargo +nightly build --release --target "$host" --bins)

failed=0
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  log="fuzz/target/$target.log"
  if "fuzz/target/$host/release/$target" "fuzz/corpus/$target" "fuzz/seeds/$target" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
      -artifact_prefix="fuzz/artifacts/$target/" > "$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    # Keep only the inputs that add coverage, so the committed corpus stays small.
    rm -rf "fuzz/target/merged-$target" && mkdir -p "fuzz/target/merged-$target"
    "fuzz/target/$host/release/$target" -merge=1 -max_len=8192 "fuzz/target/merged-$target" "fuzz/corpus/$target" > /dev/null 2>&1
    rm -rf "fuzz/corpus/$target" && mv "fuzz/target/merged-$target" "fuzz/corpus/$target"
    echo "fuzz $target: ${runs:-?} executions in ${seconds}s, no crash; corpus $(ls "fuzz/corpus/$target" | wc -l) inputs"
  else
    echo "fuzz $target: CRASH (input saved in fuzz/artifacts/$target/):" >&2
    grep -E "panicked|ERROR|SUMMARY" "$log" | head -5 >&2
    failed=1
  fi
done
exit "$failed"
