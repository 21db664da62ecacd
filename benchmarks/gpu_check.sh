#!/usr/bin/env bash
# One prepared GPU check for issue 6: correctness first, then every speed table, all written to $OUT.
#
# On a session that is lent the device machine (one H100/H200; 15 minutes of device time in all):
#   1. here:   bash benchmarks/gpu_wheels.sh
#   2. device: run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=480)
#   3. here:   copy the returned files into benchmarks/ and .venv/bin/python benchmarks/gpu_table.py DIR
# Each stage has its own time limit, so one slow or failing stage still leaves the others' files.
# Locally, to check the plumbing on CPU in a minute:
#   DEVICE=cpu MODEL=kt-tiny-dogworld MODEL2=kt-tiny-dogworld OUT=/tmp/gpu bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/kt-gpu-check}; DEVICE=${DEVICE:-cuda}; MODEL=${MODEL:-ViT-L-14}; MODEL2=${MODEL2:-ViT-B-32}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 KT_CACHE=${KT_CACHE:-$PWD/.kt_cache}
PY=${PY:-python3}
if ! "$PY" -c "import open_clip" 2>/dev/null; then  # the GPU image: install the carried wheels
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "no .whl/: run benchmarks/gpu_wheels.sh here and carry .whl"; exit 1; }
    export PYTHONPATH=/tmp/site:$PWD
else
    export PYTHONPATH=$PWD
fi
LOG="$OUT/log.txt"
stage() {  # stage SECONDS CMD...: run with a time limit, log everything, keep going on failure
    local limit=$1; shift
    echo "== $(date -u +%T) $*" | tee -a "$LOG"
    timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
    echo "== exit ${PIPESTATUS[0]}" | tee -a "$LOG"
}
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi"
  "$PY" -c "import torch, open_clip, platform; print('python', platform.python_version(), 'torch', torch.__version__,
'cuda', torch.version.cuda, 'open_clip', open_clip.__version__)"; date -u; } | tee "$LOG"
KT=("$PY" -m kt_harness bench)
stage 150 "$PY" -m pytest -q -p no:cacheprovider tests/test_gpu.py tests/test_bench.py
stage 120 "${KT[@]}" step --device "$DEVICE" --model "$MODEL" --batch 32 --json "$OUT/step.json"
stage 45 "${KT[@]}" step --device "$DEVICE" --model "$MODEL2" --batch 32 --no-ablation --json "$OUT/step_model2.json"
stage 90 "${KT[@]}" scaling --device "$DEVICE" --model "$MODEL" --batches 32 64 128 --steps 5 --warmup 2 \
    --json "$OUT/scaling.json"
stage 45 "${KT[@]}" profile --device "$DEVICE" --model "$MODEL" --steps 3 --out "$OUT/profile.txt"
stage 60 "${KT[@]}" eval --device "$DEVICE" --model "$MODEL" --workers 8 --json "$OUT/eval.json"
stage 20 "$PY" benchmarks/gpu_table.py "$OUT" --out "$OUT/table.md"
