#!/usr/bin/env bash
# Fetch the wheels the GPU machine lacks (its image has torch, timm, huggingface_hub, pytest, but not
# open_clip or ftfy) into .whl/ (git-ignored), for `benchmarks/gpu_check.sh`. Run here, where pip works:
#   bash benchmarks/gpu_wheels.sh
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
py=.venv/bin/python
ver() { "$py" -c "import importlib.metadata as m; print(m.version('$1'))"; }
rm -rf .whl && mkdir -p .whl
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 -d .whl \
    "open_clip_torch==$(ver open_clip_torch)" "ftfy==$(ver ftfy)" "wcwidth==$(ver wcwidth)"
ls -l .whl
