#!/usr/bin/env bash
# Training throughput and peak memory, seer against PyTorch 1.13 on the same model shape and
# batch (forward + backward, 2 threads): stories15M's shape (vocab 512) and stories110M's
# (vocab 32000), batch 4 x 256. Targets: tokens/s ratio >= 2, memory ratio <= 0.7.
# Usage: bench/train.sh [BUILD]
set -euo pipefail
BUILD=${1:-build}
THREADS=${THREADS:-2}
OUT=$BUILD/bench
mkdir -p "$OUT"
have_torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && have_torch=1
for shape in 15m 110m; do
  steps=5; [ "$shape" = 110m ] && steps=3
  "$BUILD/bench_train" "$shape" --threads "$THREADS" --steps "$steps" > "$OUT/train_seer_$shape.json"
  if [ $have_torch = 1 ]; then
    /usr/bin/python3 bench/torch_train.py "$shape" --threads "$THREADS" --steps "$steps" > "$OUT/train_torch_$shape.json"
  else
    echo '{}' > "$OUT/train_torch_$shape.json"
  fi
  python3 - "$OUT/train_seer_$shape.json" "$OUT/train_torch_$shape.json" "$shape" <<'PY'
import json, sys
s, t = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
r = {"shape": sys.argv[3], "seer_tok_s": s["tokens_per_s"], "seer_peak_rss_mib": s["peak_rss_mib"]}
if t:
    r.update({"torch_tok_s": t["tokens_per_s"], "torch_peak_rss_mib": t["peak_rss_mib"],
              "speed_ratio": round(s["tokens_per_s"] / t["tokens_per_s"], 2),
              "memory_ratio": round(s["peak_rss_mib"] / t["peak_rss_mib"], 2)})
print(json.dumps(r))
PY
done
