#!/usr/bin/env bash
# The main job: set up, build, and chat with DeepSeek-R1-Distill-Qwen-1.5B
# (downloaded once into the Hugging Face cache, then used offline).
#   scripts/run-main.sh                      interactive chat
#   scripts/run-main.sh "Why is the sky blue?"   one answer
#   MODEL=ORG/NAME or MODEL=/path/to/dir scripts/run-main.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=Release
model="${MODEL:-deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B}"
if [ $# -gt 0 ]; then
  exec ./build/dsinfer run "$model" "$*"
fi
exec ./build/dsinfer run "$model"
