#!/usr/bin/env bash
# Serving benchmark on a synthetic model (real shapes, random weights): starts
# `dsinfer serve` in the background, waits for /health, runs `dsinfer
# bench-serve` with 1 and then 16 concurrent streaming clients and prints the
# throughput ratio, then stops the server.
#
#   scripts/bench-serve.sh [--preset NAME] [--type TYPE] [--port N] [--threads N]
#                          [--bin PATH] [-- BENCH-SERVE ARGS...]
#
# Defaults: r1-distill-qwen-1.5b at q4_k on port 18000 with the deepseek-llm
# vocabulary from ../shared/testdata (a synthetic model takes its vocabulary
# from --tokenizer); bench-serve args default to
#   --sweep 1,16 --requests-per-client 2 --prompt-tokens 128 --max-tokens 32
set -euo pipefail
cd "$(dirname "$0")/.."

preset=r1-distill-qwen-1.5b
type=q4_k
port=18000
threads=0
bin=build/dsinfer
tokenizer=../shared/testdata/tokenizers/deepseek-llm/tokenizer.json
while [ $# -gt 0 ]; do
  case "$1" in
    --preset) preset=$2; shift 2 ;;
    --type) type=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --tokenizer) tokenizer=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "scripts/bench-serve.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
bench_args=("$@")
[ ${#bench_args[@]} -gt 0 ] || bench_args=(--sweep 1,16 --requests-per-client 2 --prompt-tokens 128 --max-tokens 32)

[ -x "$bin" ] || { echo "scripts/bench-serve.sh: $bin not built (cmake --build build)" >&2; exit 2; }
[ -f "$tokenizer" ] || { echo "scripts/bench-serve.sh: tokenizer $tokenizer not found (--tokenizer PATH)" >&2; exit 2; }

log=$(mktemp)
"$bin" serve "synthetic:$preset" --type "$type" --tokenizer "$tokenizer" --port "$port" --threads "$threads" \
  >"$log" 2>&1 &
server=$!
stop_server() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -f "$log"
}
trap stop_server EXIT

echo "server: synthetic:$preset ($type) on port $port, pid $server"
if ! "$bin" bench-serve --url "http://127.0.0.1:$port" --wait 900 "${bench_args[@]}"; then
  echo "--- server log ---" >&2
  cat "$log" >&2
  exit 1
fi
