"""Free TCP ports on 127.0.0.1, for the rare test that must know a port before anything binds
it: a process told its backends' addresses up front, an address where nothing listens, a
server started again on the port it had.

Everything else binds port 0 and reads the port back.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack


def free_ports(count: int) -> list[int]:
    """`count` distinct ports nothing listens on right now. The sockets are all held open
    until every port is chosen, so the kernel cannot hand out the same one twice."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def free_port() -> int:
    """One port nothing listens on right now."""
    [port] = free_ports(1)
    return port
