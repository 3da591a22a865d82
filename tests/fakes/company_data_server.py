"""A fake 天眼查/企查查-style company data API on 127.0.0.1: scriptable companies, events and faults."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import Loopback

FAULTS = ("none", "500", "timeout", "bad_json", "error_code")


@dataclass
class CompanyDataServer:
    """`companies`: keyword (name or credit code) → company id; `events`: company id → event dicts.

    `fault` makes every answer fail that way; a `timeout` answer is held until the server stops.
    """

    token: str = "test-token"
    companies: dict[str, str] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fault: str = "none"
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loopback = Loopback(self._handler())

    @property
    def base_url(self) -> str:
        return f"{self._loopback.url}/v1"

    def company(self, keyword: str, company_id: str, *events: dict[str, Any]) -> None:
        self.companies[keyword] = company_id
        self.events.setdefault(company_id, []).extend(events)

    def __enter__(self) -> CompanyDataServer:
        self._loopback.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._loopback.stop()

    def _answer(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        if path == "/v1/search":
            found = self.companies.get(query.get("keyword", ""))
            items = [{"id": found, "name": query["keyword"], "credit_code": None}] if found else []
        elif path == "/v1/events":
            since = query.get("since", "")
            items = [e for e in self.events.get(query.get("company_id", ""), []) if e["date"] >= since]
        else:
            return {"code": 404, "message": "not found"}
        return {"code": 0, "data": {"items": items}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                fake.requests.append(self.path)
                if self.headers.get("Authorization") != fake.token:
                    return self._send(401, b'{"code": 401, "message": "bad token"}')
                if fake.fault == "timeout":
                    fake._loopback.stopping.wait(30)
                    return None
                if fake.fault == "500":
                    return self._send(500, b"internal error")
                if fake.fault == "bad_json":
                    return self._send(200, b"{not json")
                if fake.fault == "error_code":
                    return self._send(200, b'{"code": 300000, "message": "quota exceeded"}')
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                return self._send(200, json.dumps(fake._answer(parts.path, query), ensure_ascii=False).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
