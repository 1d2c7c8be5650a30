"""How isoaudit's clients reach AWS: through a proxy the environment names, as botocore's own clients do."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from botocore.exceptions import ClientError

from isoaudit.aws.session import default_session


class _RefusingProxy(BaseHTTPRequestHandler):
    """A proxy that notes the address of every request it is asked to forward, and refuses it."""

    asked: ClassVar[list[str]] = []
    refusal = (
        b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>refused</Message></Error></ErrorResponse>"
    )

    def do_POST(self) -> None:
        self.asked.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(403)
        self.send_header("Content-Length", str(len(self.refusal)))
        self.end_headers()
        self.wfile.write(self.refusal)

    def log_message(self, *_: object) -> None:
        pass


def test_a_proxy_named_in_the_environment_carries_the_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _RefusingProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    for variable in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    try:
        aws = default_session(region="us-east-1", endpoint_url="http://sts.isoaudit.invalid")
        with pytest.raises(ClientError):
            aws.client("sts").get_caller_identity()
    finally:
        proxy.shutdown()
    assert _RefusingProxy.asked == ["http://sts.isoaudit.invalid/"]
