"""A proxy in front of bqemulator that rewrites the two kinds of query it cannot run, so that the
production code sends BigQuery's own SQL (bqemulator 1.4.0 with duckdb 1.5.5, the Makefile's
BQEMU_PINS):

- Query parameters in a multi-statement script: it runs them in single statements only ("Values
  were not provided for the following prepared statement parameters"), so in a script they are
  inlined as typed literals.
- An ALTER TABLE with several actions ("Only one ALTER command per statement is supported"): it
  becomes one ALTER TABLE per action, in the same script.

Every other request passes through unchanged.
"""

import http.client
import json
import re
from urllib.parse import urlsplit

from taxi_pipeline_tests.support.http_server import QuietRequestHandler, serve

_PARAMETER = re.compile(r"@(\w+)")
_ALTER = re.compile(r"^(\s*ALTER TABLE\s+\S+\s+)(.*)$", re.IGNORECASE | re.DOTALL)
_NEXT_ACTION = re.compile(r",\s*(?=(?:ADD|DROP|ALTER|RENAME|SET)\s)", re.IGNORECASE)
_HOP_BY_HOP = {"connection", "content-length", "date", "host", "server", "transfer-encoding"}


def _literal(parameter: dict) -> str:
    """A query parameter (as the REST API carries it) as a GoogleSQL literal of its type."""
    kind = parameter["parameterType"]["type"]
    value = (parameter.get("parameterValue") or {}).get("value")
    if value is None:
        return f"CAST(NULL AS {kind})"
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"CAST('{escaped}' AS {kind})"


def _statements(query: str) -> list[str]:
    return [s for s in query.split(";") if s.strip()]


def rewrite_query(query: str, parameters: list[dict]) -> tuple[str, list[dict]]:
    """(query, parameters) as bqemulator can run them: a script's parameters inlined, and each
    multi-action ALTER TABLE split into one statement per action."""
    statements = _statements(query)
    if len(statements) > 1 and parameters:
        values = {p["name"]: _literal(p) for p in parameters}
        statements = [_PARAMETER.sub(lambda m: values[m.group(1)], s) for s in statements]
        parameters = []
    split = []
    for statement in statements:
        alter = _ALTER.match(statement)
        actions = _NEXT_ACTION.split(alter.group(2)) if alter else []
        split += [alter.group(1) + action for action in actions] if len(actions) > 1 else [statement]
    if split == _statements(query):
        return query, parameters
    return ";\n".join(s.strip() for s in split) + ";", parameters


def _rewrite_job(body: bytes) -> bytes:
    """A jobs.insert or jobs.query request body with its query rewritten (`rewrite_query`)."""
    request = json.loads(body)
    holder = request.get("configuration", {}).get("query") or request
    if "query" not in holder:
        return body
    holder["query"], parameters = rewrite_query(holder["query"], holder.get("queryParameters", []))
    if not parameters:
        holder.pop("queryParameters", None)
        holder.pop("parameterMode", None)
    return json.dumps(request).encode()


class _Proxy(QuietRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = ""  # host:port of bqemulator

    def _forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.command == "POST" and body and urlsplit(self.path).path.endswith(("/jobs", "/queries")):
            body = _rewrite_job(body)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(self.upstream, timeout=600)
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward


def start_proxy(emulator_endpoint: str):
    """The rewriting proxy to `emulator_endpoint` on 127.0.0.1 (a thread); returns the server
    and its base URL."""
    handler = type("BqemulatorProxy", (_Proxy,), {"upstream": urlsplit(emulator_endpoint).netloc})
    return serve(handler)
