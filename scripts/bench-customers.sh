#!/usr/bin/env bash
# Customer directory import speed: a generated file of N contacts (default 10,000) imported into a fresh SQLite
# store, then again (every row unchanged), then the first M of them (default 1,000: moto answers some fifty
# requests a second) into DynamoDB on moto. Prints rows per second for each. Not part of CI (a benchmark, not a
# test):  bash scripts/bench-customers.sh [ROWS] [MOTO_ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-10000}"
moto_rows="${2:-1000}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build -q --release -p esimhooks-cli
bin=target/release/esimhooks
python3 scripts/contacts-csv.py "$rows" "$work/contacts.csv"
rate() {  # label, command...
  local label=$1; shift
  local start end
  start=$(date +%s.%N); "$@" > "$work/out.txt"; end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'{sys.argv[3]}: {int(sys.argv[4])/s:,.0f} rows/s ({s:.2f} s)')" "$start" "$end" "$label" "$rows"
  tail -1 "$work/out.txt"
}
rate "SQLite, new contacts" "$bin" customers import --file "$work/contacts.csv" --db "$work/local.db"
rate "SQLite, unchanged" "$bin" customers import --file "$work/contacts.csv" --db "$work/local.db"
head -n "$((moto_rows + 1))" "$work/contacts.csv" > "$work/moto.csv"
bash scripts/with-moto.sh bash -c '
  export AWS_ENDPOINT_URL="$ESIMHOOKS_TEST_ENDPOINT"
  table=$("$0" init --table bench-contacts --topic bench-alerts | sed -n "s/^export ESIMHOOKS_TABLE=//p" | tr -d "\"'"'"'")
  start=$(date +%s.%N); "$0" customers import --backend aws --table "${table:-bench-contacts}" --file "$1" | tail -1; end=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f\"DynamoDB on moto, new contacts: {int(sys.argv[3])/s:,.0f} rows/s ({s:.2f} s)\")" "$start" "$end" "$2"
' "$bin" "$work/moto.csv" "$moto_rows"
