"""A paced OpenAI-compatible Chat Completions server: replies arrive like a real LLM's.

The load benchmarks need streams that stay open because the model is slow, as in real use,
not because the machine is: so this server waits `think` seconds before the first chunk, then
sends `chunks` text chunks `interval` seconds apart (defaults 0.3 s, 20, 0.1 s: a 2.3 s reply).
With `tool` set, a request whose last message is not a tool result is answered with one call
of that tool (`add_task` with a title, by default) instead, paced the same way (think time,
then its chunks `interval` apart); the next request, which carries the tool's result, gets the
text reply. Both streaming (SSE `chat.completion.chunk`s, usage last when the client asks
with `stream_options.include_usage`) and non-streaming (`chat.completion`) requests work.

It is itself cheap, since it serves thousands of streams at once on the same 2 cores as what
is measured: every chunk's bytes are built once at start-up, a request costs one JSON parse of
its body, and each chunk one timer and one socket write. It runs on uvicorn (httptools,
uvloop) as a bare ASGI app, no per-request framework objects.

Run it in its own process, so its CPU is not counted with the client's or the agent's:

    async with paced_model(PacedReply(tool="add_task")) as model:
        env = model.agent_env()   # AGENT_MODEL, OPENAI_BASE_URL, OPENAI_API_KEY
        ...                       # model.pid for its CPU; await model.stats() for counts

    uv run python -m bench.paced_model --port 8089 [--think 0.3 --chunks 20 --interval 0.1]
    uv run python -m bench.paced_model --port 0 --tool add_task   # prints the port it took

The agent uses it with `AGENT_MODEL=<any name>` and `OPENAI_BASE_URL=<url>/v1` (its
`OpenAIChatCompletionsModel` path, the real `openai` client); the key is not checked.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

MODEL_NAME = "paced-model"
API_KEY = "paced-model-key"
CALL_ID = "call_paced_1"
# The line a child process prints once it listens; the parent reads the port from it.
READY_PREFIX = "paced-model listening on port "
START_SECONDS = 30.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class PacedReply:
    """How every reply is paced and what it says."""

    # Seconds before the first chunk (the model "thinking", time to first token).
    think: float = 0.3
    # Text chunks in a reply, sent `interval` seconds apart after the first.
    chunks: int = 20
    interval: float = 0.1
    # The text of one chunk; `{i}` is replaced by the chunk's number.
    chunk_text: str = "word{i} "
    # A tool to call before answering (None: plain text replies only).
    tool: str | None = None
    # The tool call's arguments, as JSON text (`add_task` needs a title).
    tool_arguments: str = '{"title": "Paced benchmark task"}'


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-paced",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL_NAME,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


@dataclass(frozen=True)
class _Script:
    """One reply precomputed: SSE frames sent one per tick, the closing frames sent with the
    last one, and the same reply as a non-streaming body."""

    frames: tuple[bytes, ...]
    closing: bytes
    completion_tokens: int
    message: dict[str, Any]
    finish: str


def _text_script(reply: PacedReply) -> _Script:
    pieces = [reply.chunk_text.format(i=i + 1) for i in range(reply.chunks)]
    frames = [_sse(_chunk({"role": "assistant", "content": pieces[0]}))]
    frames += [_sse(_chunk({"content": piece})) for piece in pieces[1:]]
    return _Script(
        frames=tuple(frames),
        closing=_sse(_chunk({}, "stop")),
        completion_tokens=len(pieces),
        message={"role": "assistant", "content": "".join(pieces)},
        finish="stop",
    )


def _tool_script(reply: PacedReply) -> _Script:
    assert reply.tool is not None
    arguments = reply.tool_arguments
    half = len(arguments) // 2
    start = {
        "index": 0,
        "id": CALL_ID,
        "type": "function",
        "function": {"name": reply.tool, "arguments": ""},
    }
    frames = (
        _sse(_chunk({"role": "assistant", "content": None, "tool_calls": [start]})),
        _sse(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[:half]}}]})),
        _sse(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[half:]}}]})),
    )
    return _Script(
        frames=frames,
        closing=_sse(_chunk({}, "tool_calls")),
        completion_tokens=len(frames),
        message={
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": CALL_ID,
                    "type": "function",
                    "function": {"name": reply.tool, "arguments": arguments},
                }
            ],
        },
        finish="tool_calls",
    )


_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]
_JSON_HEADERS = [(b"content-type", b"application/json")]
_DONE = b"data: [DONE]\n\n"


class PacedModelApp:
    """The ASGI app: POST /v1/chat/completions (or /chat/completions), GET /v1/models, and
    GET /stats (requests served, streams open now and at most, by kind)."""

    def __init__(self, reply: PacedReply) -> None:
        self.reply = reply
        self._text = _text_script(reply)
        self._tool = _tool_script(reply) if reply.tool else None
        self.requests = 0
        self.tool_replies = 0
        self.text_replies = 0
        self.open_streams = 0
        self.peak_streams = 0
        self.bad_requests = 0

    def stats(self) -> dict[str, Any]:
        """Counters since start-up, and the reply settings."""
        return {
            "requests": self.requests,
            "tool_replies": self.tool_replies,
            "text_replies": self.text_replies,
            "open_streams": self.open_streams,
            "peak_streams": self.peak_streams,
            "bad_requests": self.bad_requests,
            "reply": asdict(self.reply),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is switched off; nothing else is served
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if method == "POST" and path.endswith("/chat/completions"):
            await self._completions(receive, send)
        elif method == "GET" and path == "/stats":
            await _json(send, 200, self.stats())
        elif method == "GET" and path.endswith("/models"):
            await _json(
                send, 200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}]}
            )
        else:
            await _json(send, 404, {"error": {"message": f"no route {method} {path}"}})

    async def _completions(self, receive: Receive, send: Send) -> None:
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            request = json.loads(body)
            messages = request["messages"]
            last_role = messages[-1].get("role") if messages else None
        except (ValueError, KeyError, TypeError, AttributeError):
            self.bad_requests += 1
            await _json(send, 400, {"error": {"message": "not a chat completions request"}})
            return
        self.requests += 1
        if self._tool is not None and last_role != "tool":
            script = self._tool
            self.tool_replies += 1
        else:
            script = self._text
            self.text_replies += 1
        # A rough prompt size: real servers count tokens, ~4 bytes each.
        usage = _usage(max(1, len(body) // 4), script.completion_tokens)
        if request.get("stream"):
            include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
            await self._stream(send, script, usage if include_usage else None)
        else:
            await asyncio.sleep(self.reply.think + self.reply.interval * len(script.frames))
            await _json(
                send,
                200,
                {
                    "id": "chatcmpl-paced",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": MODEL_NAME,
                    "choices": [
                        {"index": 0, "message": script.message, "finish_reason": script.finish}
                    ],
                    "usage": usage,
                },
            )

    async def _stream(self, send: Send, script: _Script, usage: dict[str, int] | None) -> None:
        self.open_streams += 1
        self.peak_streams = max(self.peak_streams, self.open_streams)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
            loop = asyncio.get_running_loop()
            # An absolute schedule, so the pace does not drift with the server's own load.
            due = loop.time() + self.reply.think
            last = len(script.frames) - 1
            for index, frame in enumerate(script.frames):
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if index == last:
                    tail = script.closing
                    if usage is not None:
                        tail += _sse({**_chunk({}), "choices": [], "usage": usage})
                    frame = frame + tail + _DONE
                await send({"type": "http.response.body", "body": frame, "more_body": index < last})
                due += self.reply.interval
        finally:
            self.open_streams -= 1


async def _json(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(reply: PacedReply, host: str = "127.0.0.1", port: int = 0) -> None:
    """Serves until SIGINT/SIGTERM; prints `READY_PREFIX<port>` once listening."""
    import uvicorn

    sock = _listening_socket(host, port)
    config = uvicorn.Config(
        PacedModelApp(reply),
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        # Thousands of connections may arrive together (the kernel caps it at somaxconn).
        backlog=4096,
        # The agent's client keeps connections open between a run's model calls.
        timeout_keep_alive=30,
    )

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                print(f"{READY_PREFIX}{sock.getsockname()[1]}", flush=True)

    import uvloop

    uvloop.run(AnnouncingServer(config).serve(sockets=[sock]))


@dataclass
class PacedModel:
    """A running paced model server process."""

    process: asyncio.subprocess.Process
    port: int

    @property
    def pid(self) -> int:
        """The server process (for its CPU time)."""
        return self.process.pid

    @property
    def url(self) -> str:
        """The OpenAI base URL (what OPENAI_BASE_URL takes)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def agent_env(self) -> dict[str, str]:
        """The agent's environment for using this server."""
        return {"AGENT_MODEL": MODEL_NAME, "OPENAI_BASE_URL": self.url, "OPENAI_API_KEY": API_KEY}

    async def stats(self) -> dict[str, Any]:
        """GET /stats (a plain HTTP/1.0 request: no client library needed)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(b"GET /stats HTTP/1.0\r\nHost: paced\r\n\r\n")
            response = await reader.read()
        finally:
            writer.close()
        _, _, body = response.partition(b"\r\n\r\n")
        result: dict[str, Any] = json.loads(body)
        return result


def _arguments(reply: PacedReply) -> list[str]:
    args = [
        f"--think={reply.think}",
        f"--chunks={reply.chunks}",
        f"--interval={reply.interval}",
        f"--chunk-text={reply.chunk_text}",
        f"--tool-arguments={reply.tool_arguments}",
    ]
    if reply.tool:
        args.append(f"--tool={reply.tool}")
    return args


@asynccontextmanager
async def paced_model(reply: PacedReply | None = None) -> AsyncIterator[PacedModel]:
    """Starts the server as a subprocess on a free port; stops it (SIGTERM) on the way out."""
    reply = reply or PacedReply()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.paced_model",
        "--port=0",
        *_arguments(reply),
        stdout=asyncio.subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), START_SECONDS)
        text = line.decode().strip()
        if not text.startswith(READY_PREFIX):
            raise RuntimeError(f"paced model did not start (exit {process.returncode}): {text!r}")
        yield PacedModel(process=process, port=int(text.removeprefix(READY_PREFIX)))
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.paced_model`."""
    parser = argparse.ArgumentParser(prog="python -m bench.paced_model", description=__doc__)
    defaults = PacedReply()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    parser.add_argument("--think", type=float, default=defaults.think, help="seconds")
    parser.add_argument("--chunks", type=int, default=defaults.chunks)
    parser.add_argument("--interval", type=float, default=defaults.interval, help="seconds")
    parser.add_argument("--chunk-text", default=defaults.chunk_text)
    parser.add_argument("--tool", default=None, help="call this tool first, e.g. add_task")
    parser.add_argument("--tool-arguments", default=defaults.tool_arguments)
    args = parser.parse_args(argv)
    if args.chunks < 1 or args.think < 0 or args.interval < 0:
        parser.error("--chunks must be ≥ 1, --think and --interval ≥ 0")
    json.loads(args.tool_arguments)
    reply = PacedReply(
        think=args.think,
        chunks=args.chunks,
        interval=args.interval,
        chunk_text=args.chunk_text,
        tool=args.tool or None,
        tool_arguments=args.tool_arguments,
    )
    with contextlib.suppress(KeyboardInterrupt):
        serve(reply, args.host, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
