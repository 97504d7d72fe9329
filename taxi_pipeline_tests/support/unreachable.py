"""Endpoints on 127.0.0.1 that fail the way a network does: a port nothing listens on, a
listener that never answers, one whose queue is full (connects time out), and an HTTPS server
with a self-signed certificate. Each is real: sockets and TLS, no mocks.

Host names under the reserved `.invalid` top-level domain never resolve (RFC 2606).
"""

import datetime
import http.server
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

UNRESOLVABLE_URL = "http://no-such-host.invalid"


# Bound, never listening, never closed: a connect to such a port is refused, and the kernel
# cannot hand the port to an outgoing connection as its source port. A port that was bound and
# closed can be: a connect to 127.0.0.1:P from source port P is a TCP self-connect, which
# succeeds and reads back its own request (seen in CI as "connection failed or was reset").
_HELD_PORTS: list[socket.socket] = []


def refused_port() -> int:
    """A port on 127.0.0.1 that refuses every connect for the rest of the test process."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    _HELD_PORTS.append(held)
    return held.getsockname()[1]


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port on 127.0.0.1 whose connections are accepted by the kernel and never answered
    (a read times out); yields the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


@contextmanager
def full_listener() -> Iterator[int]:
    """A port on 127.0.0.1 whose accept queue is full, so the kernel drops new SYNs and a
    connect times out; yields the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(0)
        port = s.getsockname()[1]
        fillers = []
        try:
            for _ in range(3):  # a backlog of 0 still queues one or two
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            yield port
        finally:
            for filler in fillers:
                filler.close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A new key and a self-signed certificate for 127.0.0.1, as PEM files in `folder`;
    returns (certificate, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@contextmanager
def serving_tls(handler, cert_file: Path, key_file: Path) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 (free port) with the given certificate, in a thread, for
    the length of a `with` block; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
