#!/usr/bin/env bash
# Activation-patching sweep, seer against PyTorch 1.13 with forward hooks, on the same GGUF weights
# and the same token ids: resid_pre of every layer x every position of a 64-token prompt pair,
# metric logit(A) - logit(B) at the last position. Checks the heatmaps agree, then prints seconds
# and CPU seconds (median of REPS runs, seer and torch back to back) and the ratios as JSON, one
# line per vocabulary (also in $BUILD/bench/patch/results-v<vocab>.json).
#   usage: bench/bench_patch.sh [BUILD]      env: VOCABS="32000 512" REPS=3 THREADS=2 VARIANTS=naive,batched
set -euo pipefail
BUILD=${1:-build}
SEER=$BUILD/seer
THREADS=${THREADS:-2}
REPS=${REPS:-3}
VOCABS=${VOCABS:-32000}
VARIANTS=${VARIANTS:-naive,batched}
OUT=$BUILD/bench/patch
MODELS=${BENCH_MODELS:-$BUILD/bench/models}
TOK_A=${TOK_A:-300}
TOK_B=${TOK_B:-400}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT" "$MODELS"
[ -x "$SEER" ] || { echo "bench_patch: $SEER not found (build first)" >&2; exit 1; }
/usr/bin/python3 -c "import torch, numpy" 2>/dev/null ||
  { echo "bench_patch: /usr/bin/python3 lacks torch or numpy (apt-get install python3-torch)" >&2; exit 1; }

for vocab in $VOCABS; do
  m=$MODELS/rand-15M-v$vocab-f32.gguf
  [ -f "$m" ] || "$SEER" model random --arch llama --dim 288 --layers 6 --heads 6 --kv-heads 6 --hidden 768 \
    --vocab "$vocab" --ctx 1024 --seed 1 --type f32 "$m" >/dev/null

  # Prompts of exactly 64 tokens (BOS included) under this model's tokenizer: words of a story are
  # added until the count is hit; the corrupted prompt swaps the names near its start, so almost
  # every cell is a real patched run (seer skips only cells whose clean and corrupted activations
  # are identical: position 0, and layer 0 wherever the tokens agree; 63 of 384 here).
  python3 - "$SEER" "$m" > "$OUT/prompts-v$vocab.json" <<'PY'
import json, subprocess, sys
seer, model = sys.argv[1], sys.argv[2]
def ids(text):
    r = subprocess.run([seer, "tokenize", "-z", model, "-p", text, "--json"], check=True, capture_output=True, text=True)
    return json.loads(r.stdout)["ids"]
story = ("lily and tom went to the park on a sunny day . they saw a big red ball near the old tree and ran to get it . "
         "the ball was soft and round and they played with it for a long time until the sun went down and mom called "
         "them home for dinner with soup and bread and milk").split()
text, n = "lily and tom", len(ids("lily and tom"))
# story words first; then short fillers, with or without a space, close the gap to exactly 64
for w in [" " + w for w in story[3:]] + [" a", ".", "s", "!", " i", "e"] * 8:
    if n == 64:
        break
    k = len(ids(text + w))
    if k <= 64:
        text, n = text + w, k
if n != 64:
    sys.exit("bench_patch: no 64-token prompt found for %s (got %d)" % (model, n))
clean = text
names = "sam ben amy max sue bob kim jim ann dan zoe leo tim pam joe liz meg ned ray ted anna mary jack paul rose kate".split()
pairs = ((a, b) for a in names for b in names if a != b)
for a, b in pairs:
    corrupt = "%s and %s" % (a, b) + clean[len("lily and tom"):]
    if len(ids(corrupt)) == 64:
        break
else:
    sys.exit("bench_patch: no corrupted prompt of 64 tokens found")
ci, xi = ids(clean), ids(corrupt)
print(json.dumps({"clean": clean, "corrupt": corrupt, "clean_ids": ci, "corrupt_ids": xi,
                  "differ": [i for i in range(64) if ci[i] != xi[i]]}))
PY
  field() { python3 -c 'import json, sys; v = json.load(open(sys.argv[1]))[sys.argv[2]]; print(v if isinstance(v, str) else ",".join(map(str, v)))' "$OUT/prompts-v$vocab.json" "$1"; }
  clean=$(field clean); corrupt=$(field corrupt); cids=$(field clean_ids); xids=$(field corrupt_ids); differ=$(field differ)

  for rep in $(seq "$REPS"); do
    /usr/bin/time -f "%U %S" -o "$OUT/seer-v$vocab-$rep.cpu" "$SEER" patch -m "$m" --clean "$clean" --corrupt "$corrupt" \
      --tokens "$TOK_A" "$TOK_B" --what resid_pre -t "$THREADS" --json > "$OUT/seer-v$vocab-$rep.json"
    /usr/bin/python3 "$HERE/torch_patch.py" --model "$m" --clean "$cids" --corrupt "$xids" --tokens "$TOK_A,$TOK_B" \
      -t "$THREADS" --variants "$VARIANTS" > "$OUT/torch-v$vocab-$rep.json"
  done

  python3 - "$OUT" "$vocab" "$REPS" "$differ" "$cids" "$xids" <<'PY'
import json, statistics, sys
out, vocab, reps, differ = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
S = [json.load(open("%s/seer-v%d-%d.json" % (out, vocab, r))) for r in range(1, reps + 1)]
Tr = [json.load(open("%s/torch-v%d-%d.json" % (out, vocab, r))) for r in range(1, reps + 1)]
sids = [t["id"] for t in S[0]["clean"]["tokens"]], [t["id"] for t in S[0]["corrupt"]["tokens"]]
if ",".join(map(str, sids[0])) != sys.argv[5] or ",".join(map(str, sids[1])) != sys.argv[6]:
    sys.exit("bench_patch: seer encoded the prompts to other ids than torch was given")
seer_grid = S[0]["grids"][0]["raw"]
flat = [v for row in seer_grid for v in row]
rng = max(flat) - min(flat)
res = {"shape": "15M", "vocab": vocab, "tokens": len(sids[0]), "layers": len(seer_grid), "cells": len(flat),
       "differ_at": [int(v) for v in differ.split(",")], "threads": Tr[0]["threads"], "reps": reps,
       "seer_s": statistics.median(s["seconds"] for s in S), "seer_all_s": [s["seconds"] for s in S],
       # CPU seconds (user + sys, every thread) of the whole seer process, model loading included
       "seer_cpu_s": statistics.median(sum(map(float, open("%s/seer-v%d-%d.cpu" % (out, vocab, r)).read().split()[-2:]))
                                       for r in range(1, reps + 1)),
       "raw_range": rng}
ok = True
for v in ("naive", "batched"):
    if v not in Tr[0]:
        continue
    worst = 0.0
    for t in Tr:  # every repetition's heatmap against seer's, and seer's repetitions against each other
        worst = max(worst, max(abs(a - b) for ra, rb in zip(seer_grid, t[v]["raw"]) for a, b in zip(ra, rb)))
    for s in S:
        worst = max(worst, max(abs(a - b) for ra, rb in zip(seer_grid, s["grids"][0]["raw"]) for a, b in zip(ra, rb)))
    sec = statistics.median(t[v]["seconds"] for t in Tr)
    res["torch_%s_s" % v] = sec
    res["torch_%s_all_s" % v] = [t[v]["seconds"] for t in Tr]
    res["torch_%s_cpu_s" % v] = statistics.median(t[v]["cpu_seconds"] for t in Tr)
    res["speedup_vs_%s" % v] = sec / res["seer_s"]
    res["max_abs_diff_%s" % v] = worst
    res["rel_diff_%s" % v] = worst / rng if rng > 0 else float("inf")
    ok = ok and worst <= 1e-3 * rng
res["heatmaps_agree"] = ok
print(json.dumps(res))
json.dump(res, open("%s/results-v%d.json" % (out, vocab), "w"), indent=1)
if not ok:
    sys.exit("bench_patch: seer's and torch's heatmaps differ by more than 1e-3 of their range")
PY
done
