"""Free TCP ports on 127.0.0.1, for the servers the tests start (and for a port nothing serves)."""

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that no one listens on at the moment of the call."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
