#!/usr/bin/env bash
# The main job: set up, build, and generate with a DeepSeek-V3-architecture
# checkpoint (the tiny reference model from ../shared/testdata, or MODEL_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
model="${1:-../shared/testdata/reference/models/ds3-tiny}"
./build/dsinfer inspect --model "$model"
./build/dsinfer generate --model "$model" --tokens 908,121,248,823,484,303,450 --max-tokens 16
