#!/usr/bin/env bash
# What hook points cost when nothing is attached: the normal build against one with every hook
# point compiled out (-DSEER_NO_TAPS=ON), same model. Two measurements:
#  - instructions executed (valgrind's cachegrind, one thread): exact and repeatable, so a cost
#    of a tenth of a percent shows even on a noisy machine. An idle hook point is a load, a test
#    and a branch that always goes the same way, so its cost in time is its cost in instructions.
#  - tokens per second, runs alternated so drift in the machine's speed hits both builds; on a
#    shared VM this varies by several percent between identical runs, so read it as a check that
#    nothing else (code layout, inlining) changed, not as the measure of a 1 % effect.
# Prints one JSON line per model: ratios normal / no-taps (time: >= 0.99 is the target;
# instructions: <= 1.01). Usage: bench/hooks_idle.sh [BUILD] [MODEL...]
set -euo pipefail
BUILD=${1:-build}
shift || true
NOTAPS=$BUILD-notaps
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-9}
cmake -S . -B "$NOTAPS" -DSEER_NO_TAPS=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$NOTAPS" -j2 --target seer_cli >/dev/null
MODELS=("$@")
if [ ${#MODELS[@]} -eq 0 ]; then
  M=$BUILD/bench/models/rand-15M-v512-f32.gguf
  mkdir -p "$(dirname "$M")"
  [ -f "$M" ] || "$BUILD/seer" model random --dim 288 --layers 6 --heads 6 --hidden 768 --vocab 512 --ctx 1024 --seed 1 "$M" 2>/dev/null
  MODELS=("$M")
fi
have_vg=0
command -v valgrind >/dev/null && have_vg=1

# instructions of one bench run (prefill p, decode n, one thread) under cachegrind
instr() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$1/seer" bench -m "$2" -p "$3" -n "$4" \
    -t 1 -r 1 2>&1 | sed -n 's/.*I *refs: *//p' | tr -d ,
}

for m in "${MODELS[@]}"; do
  ipp=null itg=null
  if [ $have_vg = 1 ]; then
    # Per-token instructions: the difference between two token counts, so loading the model and
    # setting up the context (the same in both builds) drop out. Small counts, as cachegrind runs
    # ~50x slower; the per-token cost does not depend on them.
    ipp="[$(($(instr "$BUILD" "$m" 96 0) - $(instr "$BUILD" "$m" 32 0))), $(($(instr "$NOTAPS" "$m" 96 0) - $(instr "$NOTAPS" "$m" 32 0)))]"
    itg="[$(($(instr "$BUILD" "$m" 0 48) - $(instr "$BUILD" "$m" 0 16))), $(($(instr "$NOTAPS" "$m" 0 48) - $(instr "$NOTAPS" "$m" 0 16)))]"
  else
    echo "hooks_idle: valgrind not found; instruction counts skipped" >&2
  fi
  : > "$BUILD/hooks_idle.txt"
  for r in $(seq "$ROUNDS"); do
    for b in "$BUILD" "$NOTAPS"; do
      "$b/seer" bench -m "$m" -p 256 -n 128 -t "$THREADS" -r 3 --json | python3 -c "import json,sys; d=json.load(sys.stdin); print('$b', d['prefill_tok_s'], d['decode_tok_s'])" >> "$BUILD/hooks_idle.txt"
    done
  done
  python3 - "$BUILD/hooks_idle.txt" "$BUILD" "$m" "$ipp" "$itg" <<'PY'
import json, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
a = [(float(p), float(t)) for b, p, t in rows if b == sys.argv[2]]
n = [(float(p), float(t)) for b, p, t in rows if b != sys.argv[2]]
med = statistics.median
# each round's normal run over the no-taps run right after it, then the median of those
paired = lambda i: med([x[i] / y[i] for x, y in zip(a, n)])
ipp, itg = json.loads(sys.argv[4]), json.loads(sys.argv[5])
ratio = lambda v: None if not v else round(v[0] / v[1], 6)
print(json.dumps({"model": sys.argv[3], "rounds": len(a),
                  "instr_ratio_prefill": ratio(ipp), "instr_ratio_decode": ratio(itg),
                  "instr_prefill_64_tokens_x2": ipp, "instr_decode_32_tokens_x2": itg,
                  "time_ratio_prefill": round(paired(0), 4), "time_ratio_decode": round(paired(1), 4),
                  "prefill_tok_s": med([x[0] for x in a]), "prefill_tok_s_notaps": med([x[0] for x in n]),
                  "decode_tok_s": med([x[1] for x in a]), "decode_tok_s_notaps": med([x[1] for x in n])}))
PY
done
