#!/usr/bin/env bash
# Times a sharded round against a single-machine run on the same generated data (make
# shard-bench): for each fleet size, partition, every shard at once (separate processes, as
# an Indexed Job runs them), close; it prints each phase's wall time and peak RSS, and the
# bytes each shard read (from its done marker: the partition step's Parquet, never the raw
# objects) beside the raw bytes partition read once. Local directories stand in for the
# source, the state store and the outputs.
#
#   scripts/shardbench.sh EVENTS [SHARD_COUNTS] [WORKDIR]     e.g. scripts/shardbench.sh 1000000 "1 2 4"
#
# KEEP=1 keeps WORKDIR (default: a new directory under /var/tmp).
set -euo pipefail
EVENTS=${1:?usage: scripts/shardbench.sh EVENTS [SHARD_COUNTS] [WORKDIR]}
COUNTS=${2:-1 2 4}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK=${3:-$(mktemp -d /var/tmp/creditmeter-shardbench.XXXXXX)}
BIN="$ROOT/bin/creditmeter"
NOW=2026-04-10T00:00:00Z
mkdir -p "$WORK"
(cd "$ROOT" && go build -o "$BIN" ./cmd/creditmeter)
cleanup() { [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT

tenants=$(( EVENTS / 5000 )); (( tenants < 8 )) && tenants=8; (( tenants > 1000 )) && tenants=1000
echo "generating $EVENTS events for $tenants tenants in $WORK"
"$BIN" generate --events "$EVENTS" --tenants "$tenants" --seed 42 --months 3 --out "$WORK/data" >/dev/null
CFG="$WORK/data/creditmeter.yaml"
echo "raw objects: $(du -sb "$WORK/data/raw" | cut -f1) bytes"

# since T0: seconds since T0 (date +%s%N)
since() { awk -v t0="$1" -v t1="$(date +%s%N)" 'BEGIN { printf "%.1f", (t1 - t0) / 1e9 }'; }

# timed LABEL CMD...: runs CMD under /usr/bin/time, logs to $WORK/LABEL.log; sets WALL, RSS
timed() {
	local label=$1; shift
	/usr/bin/time -f '%e %M' -o "$WORK/$label.time" "$@" >"$WORK/$label.out" 2>"$WORK/$label.log" \
		|| { echo "$label failed:"; tail -5 "$WORK/$label.log"; exit 1; }
	read -r WALL RSS <"$WORK/$label.time"; RSS=$(( RSS / 1024 ))
}

timed single "$BIN" run --config "$CFG" --now "$NOW" --output "$WORK/single/out" --warehouse "$WORK/single/wh.duckdb" --log-json
printf '%-10s total %6.1f s                                                  peak RSS %5d MiB\n' "single" "$WALL" "$RSS"

for n in $COUNTS; do
	d="$WORK/n$n"
	start=$(date +%s%N)
	timed "n$n-partition" "$BIN" partition --config "$CFG" --state "$d/state" --shards "$n" --now "$NOW"
	pw=$WALL; prss=$RSS
	s0=$(date +%s%N)
	pids=()
	for ((i = 0; i < n; i++)); do
		/usr/bin/time -f '%e %M' -o "$WORK/n$n-shard$i.time" "$BIN" run --config "$CFG" --state "$d/state" --shard "$i/$n" \
			--output "$d/out" --warehouse "$d/shard-$i/wh.duckdb" >"$WORK/n$n-shard$i.out" 2>"$WORK/n$n-shard$i.log" &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do wait "${pids[$i]}" || { echo "shard $i/$n failed:"; tail -5 "$WORK/n$n-shard$i.log"; exit 1; }; done
	sw=$(since "$s0")
	srss=0
	for ((i = 0; i < n; i++)); do read -r _ r <"$WORK/n$n-shard$i.time"; (( r / 1024 > srss )) && srss=$(( r / 1024 )); done
	timed "n$n-close" "$BIN" close --config "$CFG" --state "$d/state" --output "$d/out" --warehouse "$d/close/fleet.duckdb"
	total=$(since "$start")
	printf '%-10s total %6.1f s: partition %5.1f s, shards %6.1f s, close %5.1f s; peak RSS partition %d, shard %d, close %d MiB\n' \
		"$n shards" "$total" "$pw" "$sw" "$WALL" "$prss" "$srss" "$RSS"
	python3 - "$d/state" <<'PY'
import glob, json, sys
st = sys.argv[1]
r = json.load(open(st + "/round.json"))
print("           partition read %d raw bytes once (%d objects, %d lines)" % (r["objects"]["bytes_ingested"], r["objects"]["ingested"], r["objects"]["lines_ingested"]))
for p in sorted(glob.glob(st + "/rounds/%s/shards/*/done.json" % r["id"]), key=lambda p: int(p.split("/")[-2])):
    d = json.load(open(p))
    print("           shard %d/%d read %d bytes (%d lines) in %.1f s, peak RSS %d MiB" % (d["shard"], d["shards"], d["bytes_read"], r["shard_lines"][d["shard"]], d["seconds"], d["peak_rss_mib"]))
PY
	for f in ledger/period_usage.csv invoices/register.csv; do
		cmp -s "$WORK/single/out/$f" "$d/out/$f" || echo "           WARNING: $f differs from the single machine's"
	done
done
