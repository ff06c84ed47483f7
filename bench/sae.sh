#!/usr/bin/env bash
# SAE training speed: seer (bench_sae) against PyTorch 1.13 (bench/torch_sae.py, Debian
# python3-torch) training the same TopK SAE with the same batch, for 64 -> 1,024 (k 16) and
# 768 -> 24,576 (k 32). Each repetition runs seer then torch back to back; the table shows
# medians of training tokens/s and peak RSS, and seer's speed over torch's.
# Usage: bench/sae.sh [BUILD_DIR]   (env: THREADS=2 REPS=3 DECODE="dense bag" BATCH=4096)
set -euo pipefail
BUILD=${1:-build}
THREADS=${THREADS:-2}
REPS=${REPS:-3}
BATCH=${BATCH:-4096}
DECODE=${DECODE:-dense}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$BUILD/bench_sae" ] || { echo "sae.sh: $BUILD/bench_sae missing (cmake --build $BUILD --target bench_sae)" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "sae.sh: python3-torch missing (scripts/setup.sh --bench)" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# shape: d_in latents k steps warmup rows
SHAPES=${SHAPES:-"64:1024:16:30:2:65536 768:24576:32:3:1:16384"}
printf "%-14s %-6s | %12s %12s %8s | %10s %10s\n" shape torch "seer tok/s" "torch tok/s" "ratio" "seer RSS" "torch RSS"
for shape in $SHAPES; do
  IFS=: read -r d n k steps warm rows <<< "$shape"
  args="--d-in $d --latents $n --k $k --batch $BATCH --steps $steps --warmup $warm --rows $rows --threads $THREADS"
  for dec in $DECODE; do
    : > "$OUT/seer.jsonl"; : > "$OUT/torch.jsonl"
    for r in $(seq "$REPS"); do
      "$BUILD/bench_sae" $args >> "$OUT/seer.jsonl"
      /usr/bin/python3 "$HERE/torch_sae.py" $args --decode "$dec" >> "$OUT/torch.jsonl"
    done
    /usr/bin/python3 - "$OUT/seer.jsonl" "$OUT/torch.jsonl" "${d}->${n}" "$dec" <<'PY'
import json, statistics, sys
s = [json.loads(l) for l in open(sys.argv[1])]
t = [json.loads(l) for l in open(sys.argv[2])]
med = lambda rows, key: statistics.median(r[key] for r in rows)
st, tt = med(s, "tokens_per_s"), med(t, "tokens_per_s")
print("%-14s %-6s | %12.0f %12.0f %7.1fx | %8.0fMB %8.0fMB" % (sys.argv[3], sys.argv[4], st, tt, st / tt,
      med(s, "peak_rss_mb"), med(t, "peak_rss_mb")))
print(json.dumps({"shape": sys.argv[3], "torch_decode": sys.argv[4], "seer_tokens_per_s": st, "torch_tokens_per_s": tt,
                  "ratio": round(st / tt, 2), "seer_peak_rss_mb": med(s, "peak_rss_mb"),
                  "torch_peak_rss_mb": med(t, "peak_rss_mb")}), file=sys.stderr)
PY
  done
done
