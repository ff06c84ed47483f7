#!/usr/bin/env bash
# make bench: seer against its peers on the same GGUF files, same threads, same run.
# Shapes: stories15M-like (dim 288, 6 layers, 6 heads, hidden 768) and stories110M-like (dim 768,
# 12 layers, 12 heads, hidden 2048), vocab 512 and 32000, f32 and q8_0; prefill pp256 and decode
# tg128 (tokens/s, median), plus seer's peak RSS against weights + KV cache. Peers: llama.cpp
# (built by ../shared/tools/build-llama-cpp.sh; skipped with a notice when absent) and PyTorch 1.13
# (Debian python3-torch, f32 only). Results: a table on stdout and $BUILD/bench/results.json.
set -euo pipefail
BUILD=${1:-build}
SEER=$BUILD/seer
THREADS=${THREADS:-2}
REPS=${REPS:-3}
OUT=$BUILD/bench
MODELS=${BENCH_MODELS:-$OUT/models}
LLAMA_BIN=${LLAMA_BIN:-/tmp/llama.cpp-peer/build/bin}
SHAPES=${SHAPES:-"15M 110M"}
VOCABS=${VOCABS:-"512 32000"}
TYPES=${TYPES:-"f32 q8_0"}
mkdir -p "$OUT" "$MODELS"

have_llama=0
if [ -x "$LLAMA_BIN/llama-bench" ]; then have_llama=1; else
  echo "bench: llama.cpp not found at $LLAMA_BIN (build it with ../shared/tools/build-llama-cpp.sh, ~10 min); skipping that peer" >&2
fi
have_torch=0
if /usr/bin/python3 -c "import torch" 2>/dev/null; then have_torch=1; else
  echo "bench: python3-torch missing (apt-get install python3-torch libopenblas0); skipping that peer" >&2
fi

shape_args() {
  case $1 in
    15M) echo "--dim 288 --layers 6 --heads 6 --hidden 768" ;;
    110M) echo "--dim 768 --layers 12 --heads 12 --hidden 2048" ;;
  esac
}

# Every measured run starts with the model file out of the page cache (written back, then
# dropped), as after a download or a reboot. Otherwise the run right after `seer model random`
# wrote the file maps the writer's large page-cache folios whole (seen on Linux 6.18, ext4):
# untouched weights (most rows of an untied embedding) then count in RSS, by up to 23 % here,
# and the figures depend on which program happened to run first.
cold() {
  python3 -c "import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)" "$1"
}

results=$OUT/results.jsonl
: > "$results"
printf "%-6s %-6s %-5s | %10s %10s %10s | %9s %9s %9s | %6s %6s | %s\n" shape vocab type \
  "seer pp" "llama pp" "torch pp" "seer tg" "llama tg" "torch tg" "pp x" "tg x" "RSS/(W+KV): raw, over start, llama.cpp raw"
for shape in $SHAPES; do for vocab in $VOCABS; do for type in $TYPES; do
  m=$MODELS/rand-$shape-v$vocab-$type.gguf
  [ -f "$m" ] || "$SEER" model random $(shape_args "$shape") --vocab "$vocab" --ctx 1024 --seed 1 --type "$type" "$m" 2>/dev/null
  cold "$m"
  /usr/bin/time -f "%M" -o "$OUT/rss.txt" "$SEER" bench -m "$m" -p 256 -n 128 -t "$THREADS" -r "$REPS" --json > "$OUT/seer.json"
  rss_kb=$(tail -1 "$OUT/rss.txt")
  lp=null; lt=null; tp=null; tt=null; llama_rss_kb=0
  if [ $have_llama = 1 ]; then
    cold "$m"
    /usr/bin/time -f "%M" -o "$OUT/llama_rss.txt" "$LLAMA_BIN/llama-bench" -m "$m" -t "$THREADS" -p 256 -n 128 -r "$REPS" -o json > "$OUT/llama.json" 2>/dev/null || echo "[]" > "$OUT/llama.json"
    llama_rss_kb=$(tail -1 "$OUT/llama_rss.txt")
    read -r lp lt < <(python3 - "$OUT/llama.json" <<'PY'
import json, sys
try:
    rows = json.load(open(sys.argv[1]))
except Exception:
    rows = []
pp = [r["avg_ts"] for r in rows if r.get("n_prompt", 0) > 0 and r.get("n_gen", 0) == 0]
tg = [r["avg_ts"] for r in rows if r.get("n_gen", 0) > 0 and r.get("n_prompt", 0) == 0]
print(pp[0] if pp else "null", tg[0] if tg else "null")
PY
)
  fi
  if [ $have_torch = 1 ] && [ "$type" = f32 ]; then
    /usr/bin/python3 bench/torch_llama.py $(shape_args "$shape") --vocab "$vocab" -p 256 -n 128 -t "$THREADS" -r "$REPS" > "$OUT/torch.json"
    read -r tp tt < <(python3 -c "import json;d=json.load(open('$OUT/torch.json'));print(d['prefill_tok_s'],d['decode_tok_s'])")
  fi
  python3 - "$OUT/seer.json" "$shape" "$vocab" "$type" "$lp" "$lt" "$tp" "$tt" "$rss_kb" "$llama_rss_kb" >> "$results" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
f = lambda v: None if v == "null" else float(v)
shape, vocab, typ, lp, lt, tp, tt, rss = sys.argv[2], int(sys.argv[3]), sys.argv[4], f(sys.argv[5]), f(sys.argv[6]), f(sys.argv[7]), f(sys.argv[8]), int(sys.argv[9])
# KV: what the context holds (bench sizes it for max(p, n) positions, f32); RSS "over start"
# leaves out what the process had before loading the model (shared libraries, C runtime).
wkv = s["weight_bytes"] + s["kv_bytes"]
print(json.dumps({"shape": shape, "vocab": vocab, "type": typ, "seer_pp": s["prefill_tok_s"], "seer_tg": s["decode_tok_s"],
                  "llama_pp": lp, "llama_tg": lt, "torch_pp": tp, "torch_tg": tt, "peak_rss": rss * 1024,
                  "rss_start": s["rss_start_bytes"], "llama_peak_rss": int(sys.argv[10]) * 1024 or None,
                  "weights_plus_kv": wkv, "threads": s["threads"]}))
PY
  python3 - "$results" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
g = lambda v: "-" if v is None else "%.1f" % v
x = lambda a, b: "-" if b is None else "%.2f" % (a / b)
print("%-6s %-6s %-5s | %10s %10s %10s | %9s %9s %9s | %6s %6s | %.2f %.2f %s" % (r["shape"], r["vocab"], r["type"],
      g(r["seer_pp"]), g(r["llama_pp"]), g(r["torch_pp"]), g(r["seer_tg"]), g(r["llama_tg"]), g(r["torch_tg"]),
      x(r["seer_pp"], r["llama_pp"]), x(r["seer_tg"], r["llama_tg"]), r["peak_rss"] / r["weights_plus_kv"],
      (r["peak_rss"] - r["rss_start"]) / r["weights_plus_kv"],
      "-" if not r["llama_peak_rss"] else "%.2f" % (r["llama_peak_rss"] / r["weights_plus_kv"])))
PY
done; done; done
python3 -c "import json,sys; print(json.dumps([json.loads(l) for l in open('$results')], indent=1))" > "$OUT/results.json"
echo "bench: results in $OUT/results.json (x = seer / llama.cpp; RSS ratio target <= 1.10; llama.cpp keeps its KV cache in f16, half of seer's f32)"

# Hooks: a trace saving 10 hook points against a plain forward, set-up and per-operation costs,
# and what idle hook points cost (against a build with them compiled out).
M15=$MODELS/rand-15M-v512-f32.gguf
if [ -f "$M15" ]; then
  echo "bench: trace overheads on $M15"
  "$BUILD/bench_trace" "$M15" | tee "$OUT/trace.json"
  echo "bench: idle hook points (normal / compiled out: instructions <= 1.01, time >= 0.99), 15M and stories260K"
  bench/hooks_idle.sh "$BUILD" "$M15" "${SEER_DATA:-../shared}/models/stories260K/stories260K.gguf" | tee "$OUT/hooks_idle.json"
fi

echo "bench: training (seer / PyTorch; targets: speed >= 2, memory <= 0.7)"
bench/train.sh "$BUILD" | tee "$OUT/train.jsonl"

echo "bench: activation patching sweep, every layer x 64 positions (seer / PyTorch with forward hooks; target >= 2)"
VOCABS=32000 VARIANTS=batched bench/bench_patch.sh "$BUILD" | tee "$OUT/patch.jsonl"

echo "bench: SAE training, TopK 64->1024 and 768->24576 (seer / PyTorch; target >= 2)"
bench/sae.sh "$BUILD" | tee "$OUT/sae.txt"
