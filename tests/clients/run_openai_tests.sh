#!/usr/bin/env bash
# Real clients against a live `dsinfer serve`: the official `openai` npm
# package (openai_test.mjs) and a raw SSE stream read with curl -N.
# usage: run_openai_tests.sh DSINFER_BINARY TESTDATA_DIR
# Exit 0: all passed; 1: a failure; 77: skipped (node, curl, npm packages or
# test data missing), reported loudly and never as passed.
set -u

BIN=${1:?usage: run_openai_tests.sh DSINFER_BINARY TESTDATA_DIR}
TD=${2:?usage: run_openai_tests.sh DSINFER_BINARY TESTDATA_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
KEY="sk-dsinfer-client-test"
MODEL="dsinfer-tiny"

skip() {
  echo "*** SKIP: $1: the OpenAI client tests did NOT run ***"
  exit 77
}

command -v node >/dev/null 2>&1 || skip "node not found"
command -v curl >/dev/null 2>&1 || skip "curl not found"
[ -x "$BIN" ] || { echo "FAIL: $BIN is not an executable"; exit 1; }
TOKENIZER="$TD/tokenizers/deepseek-llm/tokenizer.json"
TEMPLATE="$TD/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"
[ -f "$TOKENIZER" ] && [ -f "$TEMPLATE" ] || skip "test data not found under $TD"
if [ ! -d "$HERE/node_modules/openai" ]; then
  echo "node_modules missing: npm ci in $HERE"
  (cd "$HERE" && npm ci --no-audit --no-fund) || skip "npm ci failed (no registry access?)"
fi

WORK=$(mktemp -d)
"$BIN" serve synthetic:tiny --tokenizer "$TOKENIZER" --chat-template "$TEMPLATE" --port 0 --api-key "$KEY" \
  --served-model-name "$MODEL" --max-model-len 2048 --kv-cache-mib 64 --threads 2 >"$WORK/out" 2>"$WORK/err" &
SERVER=$!
cleanup() {
  if kill -0 "$SERVER" 2>/dev/null; then
    kill -TERM "$SERVER" 2>/dev/null
    wait "$SERVER" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The ready line names the port; without --host it must be the loopback address.
PORT=""
for _ in $(seq 1 600); do
  PORT=$(sed -n 's#^dsinfer serve: listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$#\1#p' "$WORK/out")
  [ -n "$PORT" ] && break
  if ! kill -0 "$SERVER" 2>/dev/null; then
    echo "FAIL: dsinfer serve exited before it was ready:"
    cat "$WORK/out" "$WORK/err"
    exit 1
  fi
  sleep 0.1
done
if [ -z "$PORT" ]; then
  echo "FAIL: no 'listening on http://127.0.0.1:PORT' line within 60 s:"
  cat "$WORK/out" "$WORK/err"
  exit 1
fi
echo "dsinfer serve is on port $PORT"

FAILED=0
fail() {
  echo "FAIL: $1"
  FAILED=1
}

# /health is open without the key.
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = "200" ] || fail "/health is not 200"

# Raw SSE: only "data: " lines (or ": " comments) separated by blank lines, ending with data: [DONE].
curl -sS -N --max-time 60 "http://127.0.0.1:$PORT/v1/chat/completions" \
  -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  -d "{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"max_tokens\":8,\"stream\":true}" \
  >"$WORK/sse" || fail "curl stream request failed"
DATA_LINES=$(grep -c '^data: ' "$WORK/sse")
OTHER_LINES=$(grep -v -e '^data: ' -e '^:' -e '^$' "$WORK/sse" | wc -l)
LAST=$(grep '^data: ' "$WORK/sse" | tail -n 1)
[ "$DATA_LINES" -ge 3 ] || fail "SSE stream has only $DATA_LINES data lines"
[ "$OTHER_LINES" -eq 0 ] || fail "SSE stream has $OTHER_LINES lines that are not data: lines"
[ "$LAST" = "data: [DONE]" ] || fail "SSE stream does not end with data: [DONE] (last: $LAST)"
grep -q '"finish_reason":"\(stop\|length\)"' "$WORK/sse" || fail "SSE stream has no finish_reason"
[ "$FAILED" -eq 0 ] && echo "ok   curl -N raw SSE stream ($DATA_LINES data lines, ends with [DONE])"

node "$HERE/openai_test.mjs" "$PORT" "$KEY" "$MODEL" || FAILED=1

kill -TERM "$SERVER"
wait "$SERVER"
RC=$?
[ "$RC" -eq 0 ] || fail "dsinfer serve exited with $RC after SIGTERM"

if [ "$FAILED" -ne 0 ]; then
  echo "--- server stderr ---"
  cat "$WORK/err"
  exit 1
fi
echo "openai client tests passed"
exit 0
