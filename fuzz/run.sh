#!/usr/bin/env bash
# Runs every libFuzzer harness for a fixed time, one after another on one core (the machine is
# shared), and prints executions and findings per harness. Seeds are regenerated into
# fuzz/corpus/<name>/ first; what a run finds new stays there for the next run.
# Usage: fuzz/run.sh <build dir> <seconds per harness> <shared data dir> [harness ...]
set -uo pipefail
cd "$(dirname "$0")/.."
build=$1 secs=$2 data=$3
shift 3
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.c; do n=${f#fuzz/fuzz_}; names+=("${n%.c}"); done
fi
corpus=fuzz/corpus
"$build/seer_fuzz_seeds" "$corpus" "$data" || { echo "fuzz: seed generation failed" >&2; exit 1; }
rm -rf "$corpus/.tmp"

dict_for() {
  case $1 in
    gguf) echo fuzz/dict/gguf.dict ;;
    safetensors | tok_hf | tok_gpt2 | hf_config | hf_model | sae) echo fuzz/dict/json.dict ;;
    graph) echo fuzz/dict/graph.dict ;;
    *) echo "" ;;
  esac
}

# Harnesses whose inputs (at most a few KB) should never need much memory get a tight malloc
# limit, so a small file that makes the library allocate what it merely claims is a finding.
malloc_for() {
  case $1 in
    graph | sae) echo 256 ;;
    *) echo 4096 ;;
  esac
}

rows=() total_found=0
for n in "${names[@]}"; do
  bin="$build/fuzz_$n"
  [ -x "$bin" ] || { echo "fuzz: $bin not built" >&2; exit 1; }
  art="$build/fuzz-artifacts/$n"
  log="$build/fuzz-logs/$n.log"
  mkdir -p "$art" "$build/fuzz-logs" "$corpus/$n"
  # findings: crash-, leak-, timeout- and oom- files; slow-unit- files (a unit past 10 s of wall
  # clock, usually a starved machine) are counted apart
  count() { ls "$art" 2>/dev/null | grep -c "^$1" ; }
  before=$(ls "$art" 2>/dev/null | grep -cv '^slow-unit-') slow_before=$(count slow-unit-)
  dict=$(dict_for "$n")
  echo "fuzz: $n for ${secs}s (log $log)" >&2
  SEER_DATA="$data" OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
    "$bin" "$corpus/$n" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -malloc_limit_mb="$(malloc_for "$n")" -print_final_stats=1 \
    -artifact_prefix="$art/" ${dict:+-dict=$dict} >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  after=$(ls "$art" 2>/dev/null | grep -cv '^slow-unit-')
  found=$((after - before)) slow=$(($(count slow-unit-) - slow_before))
  [ $rc -ne 0 ] && [ $found -eq 0 ] && found=1 # died without an artifact (e.g. seed crash)
  total_found=$((total_found + found))
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  rows+=("$(printf '%-14s %8ss %12s %8s %8s %10s' "$n" "$secs" "${execs:-?}" "${cov:-?}" "$found" "$slow")")
done

printf '%-14s %9s %12s %8s %8s %10s\n' harness time executions coverage findings slow-units
for r in "${rows[@]}"; do echo "$r"; done
if [ $total_found -gt 0 ]; then
  echo "fuzz: $total_found finding(s); inputs are in $build/fuzz-artifacts/<harness>/, logs in $build/fuzz-logs/" >&2
  exit 1
fi
