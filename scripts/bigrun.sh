#!/usr/bin/env bash
# A from-scratch run on generated data at scale, with time per stage, peak RSS and disk used,
# then the data deleted (make bench-100m runs it at 100M events).
#
#   scripts/bigrun.sh EVENTS [WORKDIR]
#
# Generates EVENTS events as gzipped JSON Lines (creditmeter generate, 1000 tenants, files of
# 250,000 events), runs creditmeter once on them (local source and output), prints the
# manifest's stage timings, the wall time, the peak RSS and the disk used by the data, the
# warehouse and the outputs, and a no-op run after it; then removes WORKDIR (default: a new
# directory under /var/tmp). KEEP=1 keeps it.
set -euo pipefail
EVENTS=${1:?usage: scripts/bigrun.sh EVENTS [WORKDIR]}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK=${2:-$(mktemp -d /var/tmp/creditmeter-big.XXXXXX)}
BIN="$ROOT/bin/creditmeter"
mkdir -p "$WORK"
(cd "$ROOT" && go build -o "$BIN" ./cmd/creditmeter)
cleanup() { [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT

echo "generating $EVENTS events in $WORK"
start=$(date +%s)
"$BIN" generate --events "$EVENTS" --tenants 1000 --seed 42 --events-per-object 250000 --months 12 --gzip-jsonl --out "$WORK" >/dev/null
echo "generated in $(( $(date +%s) - start )) s: $(du -sh "$WORK/raw" | cut -f1) of raw objects"

run() { # run LABEL NOW
	/usr/bin/time -v -o "$WORK/time.$1" "$BIN" run --config "$WORK/creditmeter.yaml" --now "$2" --log-json \
		2> "$WORK/log.$1" > /dev/null || { tail -5 "$WORK/log.$1"; exit 1; }
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$WORK/time.$1")
	rss=$(awk -F': ' '/Maximum resident set size/ { print int($2 / 1024) }' "$WORK/time.$1")
	stages=$(python3 - "$WORK" <<'PY'
import glob, json, os, sys
m = json.load(open(max(glob.glob(sys.argv[1] + "/out/runs/2*.json"), key=os.path.getmtime)))
print(", ".join("%s %.1f" % (s["stage"], s["seconds"]) for s in m["stages"]))
PY
)
	echo "$1 run: $wall s, peak RSS $rss MiB ($stages)"
}
run first 2027-01-10T00:00:00Z
echo "disk: raw $(du -sh "$WORK/raw" | cut -f1), warehouse $(du -sh "$WORK/var" | cut -f1), outputs $(du -sh "$WORK/out" | cut -f1)"
run no-op 2027-01-10T06:00:00Z
