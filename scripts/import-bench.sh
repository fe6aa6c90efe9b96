#!/usr/bin/env bash
# `customers import` at scale, on the local SQLite store: a generated CSV of N contacts (default 200,000) imported
# into a fresh store, its dry run there first, the same file again (every row unchanged), and a file of one
# line of M MB (default 300) that is refused. Prints rows per second and the peak RSS of each run (GNU time's
# "Maximum resident set size"). A benchmark, not a test: not in CI.
#   bash scripts/import-bench.sh [ROWS] [LONG_LINE_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-200000}"
long_mb="${2:-300}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build -q --release -p esimhooks-cli
bin=target/release/esimhooks
python3 scripts/contacts-csv.py "$rows" "$work/contacts.csv"
python3 - "$long_mb" "$work/long.csv" <<'PY'
import sys
mb, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("provider,iccid,name\nairalo,8900000000000000001,")
    chunk = "x" * (1024 * 1024)
    for _ in range(mb):
        f.write(chunk)
    f.write("\n")
PY
echo "file: $rows rows, $(du -m "$work/contacts.csv" | cut -f1) MB; one line of $long_mb MB"
measure() {  # label, rows, command...
  local label=$1 count=$2; shift 2
  /usr/bin/time -v "$@" > "$work/out.txt" 2> "$work/time.txt" || true
  python3 - "$label" "$count" "$work/time.txt" <<'PY'
import re, sys
label, count, text = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read()
wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall.split(":"))))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
rate = f"{count / seconds:,.0f} rows/s, " if count else ""
print(f"{label}: {rate}{seconds:.1f} s, peak RSS {rss / 1024:.1f} MiB")
PY
  tail -1 "$work/out.txt"
}
measure "dry run, empty store" "$rows" "$bin" customers import --dry-run --file "$work/contacts.csv" --db "$work/local.db"
measure "import, new contacts" "$rows" "$bin" customers import --file "$work/contacts.csv" --db "$work/local.db"
measure "import again, unchanged" "$rows" "$bin" customers import --file "$work/contacts.csv" --db "$work/local.db"
measure "one line of $long_mb MB" 0 "$bin" customers import --file "$work/long.csv" --db "$work/local.db"
