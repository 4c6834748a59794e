"""The edge's HTTP/1.1 protocol: uvicorn's httptools protocol with a cap on the request head.

uvicorn's httptools protocol has no limit on headers: httptools keeps appending a header's
bytes until the line ends, so one 128 MB `Authorization` header was buffered whole (and copied
on the way to the app) before anything could refuse it. Here the bytes fed to the parser while
a request's head is incomplete are counted, and past `MAX_REQUEST_HEAD_BYTES` the connection
gets a 431 problem and is closed without reading further. The count is per chunk the socket
delivered (at most a few hundred KiB), so memory stays bounded whatever the client sends.

The per-header limit (16 KiB) needs the parsed headers and so lives in the ASGI
`HeaderLimitMiddleware`, which also answers the total for heads that arrived in one chunk.
"""

from __future__ import annotations

import json
import logging
import uuid
from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from todo_edge.problems import PROBLEM_CONTENT_TYPE, Problem

log = logging.getLogger(__name__)

# Every header of a request together (request line included) and each one alone.
MAX_REQUEST_HEAD_BYTES = 64 * 1024
MAX_HEADER_BYTES = 16 * 1024


def header_fields_too_large(detail: str) -> Problem:
    """The 431 problem for a request whose headers are over a limit."""
    return Problem(
        status=431,
        title=HTTPStatus(431).phrase,
        detail=detail,
        slug="header-fields-too-large",
        extensions={"reason": "HEADERS_TOO_LARGE"},
    )


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing request heads over `MAX_REQUEST_HEAD_BYTES`."""

    max_head_bytes = MAX_REQUEST_HEAD_BYTES

    def on_message_begin(self) -> None:
        """A new request starts: its head is not complete yet."""
        super().on_message_begin()
        self._head_bytes = 0
        self._in_head = True

    def on_headers_complete(self) -> None:
        """The head was parsed within the limit: hand the request to the app."""
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        """Feeds the parser, then refuses the request if its head is still incomplete and
        already over the limit. (The chunk that starts a request may hold the previous one's
        tail, so the count can only over-estimate, by less than one chunk.)"""
        super().data_received(data)
        if not getattr(self, "_in_head", False) or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.max_head_bytes:
            self._in_head = False
            log.warning("request head too large", extra={"bytes_read": self._head_bytes})
            self._send_431()

    def _send_431(self) -> None:
        request_id = uuid.uuid4().hex
        problem = header_fields_too_large(
            f"The request's headers are larger than {self.max_head_bytes} bytes in all."
        )
        body = problem.body()
        body["request_id"] = request_id
        content = json.dumps(body).encode()
        head = [
            b"HTTP/1.1 431 Request Header Fields Too Large",
            b"content-type: " + PROBLEM_CONTENT_TYPE.encode(),
            b"content-length: " + str(len(content)).encode(),
            b"x-request-id: " + request_id.encode(),
            b"cache-control: no-store",
            b"x-content-type-options: nosniff",
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + content)
        self.transport.close()
