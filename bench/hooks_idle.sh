#!/usr/bin/env bash
# What hook points cost when nothing is attached: the normal build against one with every hook
# point compiled out (-DSEER_NO_TAPS=ON), same model, same threads, runs alternated so drift in
# the machine's speed hits both. Prints prefill and decode ratios (normal / no-taps; target
# >= 0.99). Usage: bench/hooks_idle.sh [BUILD] [MODEL...]
set -euo pipefail
BUILD=${1:-build}
shift || true
NOTAPS=$BUILD-notaps
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-7}
cmake -S . -B "$NOTAPS" -DSEER_NO_TAPS=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$NOTAPS" -j2 --target seer_cli >/dev/null
MODELS=("$@")
if [ ${#MODELS[@]} -eq 0 ]; then
  M=$BUILD/bench/models/rand-15M-v512-f32.gguf
  mkdir -p "$(dirname "$M")"
  [ -f "$M" ] || "$BUILD/seer" model random --dim 288 --layers 6 --heads 6 --hidden 768 --vocab 512 --ctx 1024 --seed 1 "$M" 2>/dev/null
  MODELS=("$M")
fi
for m in "${MODELS[@]}"; do
  : > "$BUILD/hooks_idle.txt"
  for r in $(seq "$ROUNDS"); do
    for b in "$BUILD" "$NOTAPS"; do
      "$b/seer" bench -m "$m" -p 256 -n 128 -t "$THREADS" -r 3 --json | python3 -c "import json,sys; d=json.load(sys.stdin); print('$b', d['prefill_tok_s'], d['decode_tok_s'])" >> "$BUILD/hooks_idle.txt"
    done
  done
  python3 - "$BUILD/hooks_idle.txt" "$BUILD" "$m" <<'PY'
import json, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
a = [(float(p), float(t)) for b, p, t in rows if b == sys.argv[2]]
n = [(float(p), float(t)) for b, p, t in rows if b != sys.argv[2]]
med = lambda v: statistics.median(v)
pp, tg = med([x[0] for x in a]) / med([x[0] for x in n]), med([x[1] for x in a]) / med([x[1] for x in n])
print(json.dumps({"model": sys.argv[3], "rounds": len(a), "prefill_ratio": round(pp, 4), "decode_ratio": round(tg, 4),
                  "prefill_tok_s": med([x[0] for x in a]), "prefill_tok_s_notaps": med([x[0] for x in n]),
                  "decode_tok_s": med([x[1] for x in a]), "decode_tok_s_notaps": med([x[1] for x in n])}))
PY
done
