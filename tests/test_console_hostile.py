"""Hostile input against every GET operation the OpenAPI document lists (so new sections are covered as they
land): 10,000-character query strings, control characters, SQL-looking text, `../` in path parameters,
bytes that are not UTF-8. The answer is a refusal (4xx) with a Chinese message, or a normal answer where the
value is one the parameter allows, and never a 500. A 10 MB request body is refused without being read whole.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
from console_live import LiveConsole, Login
from starlette.requests import Request

from bot.console import api, guard, sections
from bot.console.guard import MAX_FORM, MAX_JSON, BadInput

pytestmark = pytest.mark.slow  # heavy by nature: kept out of the fast part (README)

LONG = "长" * 500 + "a" * 9_500  # 10,000 characters (httpx refuses a query over 65,536 once escaped)
HOSTILE = {  # name -> a query value (httpx percent-encodes it)
    "10,000 characters": LONG,
    "control characters": "签到\x00\x1b[31m\x07\r\n",
    "SQL": "' OR 1=1; DROP TABLE member; --",
    "path": "../../../etc/passwd",
    "markup": "<script>alert(1)</script>",
}
ALWAYS_REFUSED = {"10,000 characters", "control characters"}  # whatever a parameter's schema says
NOT_UTF8 = "%FF%FE%C3%28"  # percent-escapes of bytes that decode to nothing in UTF-8
PATH_VALUES = {  # already escaped: sent as they are
    "dot-dot escaped": "..%2F..%2F..%2Fetc%2Fpasswd",
    "dot-dot encoded": "%2e%2e%2f%2e%2e%2fconfig.yaml",
    "backslashes": "..%5C..%5Cconfig.yaml",
    "not UTF-8": NOT_UTF8,
    "10,000 characters": "x" * 10_000,
}
CJK = re.compile(r"[\u4e00-\u9fff]")
TEN_MB = 10 * 1024 * 1024
CHUNK = 64 * 1024


def document() -> dict[str, Any]:
    return {**api.OPENAPI["paths"], **sections.openapi_paths()}


GETS = [path for path, item in document().items() if "get" in item]
WRITES = [(path, method) for path, item in document().items() for method in item if method in ("post", "put", "patch")]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    with LiveConsole.start(tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture(scope="module")
def owner(live: LiveConsole) -> Login:
    return live.login("boss")


def parameters(path: str, where: str, method: str = "get") -> list[dict[str, Any]]:
    spec = document()[path][method]
    return [p for p in spec.get("parameters", []) if p["in"] == where]


def plain(schema: dict[str, Any]) -> str:
    """A value the parameter's schema allows, for the parameters a request does not aim at."""
    if "enum" in schema:
        return str(schema["enum"][0])
    if "default" in schema:
        return str(schema["default"])
    if schema.get("type") in ("integer", "number"):
        return str(schema.get("minimum", 1))
    return "a" * max(1, schema.get("minLength", 1))


def accepts(schema: dict[str, Any], raw: str) -> bool:
    """Whether the raw query text is a value the parameter's schema allows."""
    kind = schema.get("type")
    value: Any = raw
    try:
        if kind == "integer":
            value = int(raw)
        elif kind == "number":
            value = float(raw)
        elif kind == "boolean":
            value = {"true": True, "false": False}[raw]
    except (ValueError, KeyError):
        return False
    return jsonschema.Draft202012Validator(schema).is_valid(value)


def filled(path: str, method: str = "get", **chosen: str) -> str:
    """The path with each path parameter at an allowed value, or at the value `chosen` for it."""
    values = {p["name"]: plain(p.get("schema", {})) for p in parameters(path, "path", method)}
    return re.sub(r"\{(\w+)\}", lambda m: chosen.get(m[1], values[m[1]]), path)


def refused_in_chinese(answer: httpx.Response, what: str) -> None:
    """A 4xx whose message is Chinese JSON, even for a path no route matches (a `/` decoded out of `%2F` in a path
    parameter): the page script shows that message."""
    assert 400 <= answer.status_code < 500, (what, answer.status_code, answer.text[:300])
    assert answer.headers.get("content-type", "").startswith("application/json"), (what, answer.text[:300])
    assert CJK.search(answer.json()["error"]), (what, answer.text[:300])


def test_every_get_operation_refuses_hostile_query_values_in_chinese_and_never_fails(
    live: LiveConsole, owner: Login
) -> None:
    checked = 0
    with live.client(owner) as client:
        for path in GETS:
            declared = parameters(path, "query")
            others = {p["name"]: plain(p.get("schema", {})) for p in declared if p.get("required")}
            for param in [*declared, {"name": "zz_not_declared", "schema": {"type": "string", "maxLength": 200}}]:
                schema = param.get("schema", {})
                for name, value in HOSTILE.items():
                    what = f"GET {path} {param['name']}={name}"
                    answer = client.get(filled(path), params={**others, param["name"]: value})
                    assert answer.status_code < 500, (what, answer.text[:300])
                    must_refuse = param in declared and (name in ALWAYS_REFUSED or not accepts(schema, value))
                    if must_refuse or answer.status_code >= 400:
                        refused_in_chinese(answer, what)
                    checked += 1
                answer = client.get(f"{filled(path)}?{param['name']}={NOT_UTF8}")
                assert answer.status_code < 500, (path, param["name"], "not UTF-8", answer.text[:300])
                if answer.status_code >= 400:
                    refused_in_chinese(answer, f"GET {path} {param['name']}=not UTF-8")
    assert checked >= len(HOSTILE) * len(GETS)


def test_every_get_operation_refuses_hostile_path_parameters_in_chinese(live: LiveConsole, owner: Login) -> None:
    with live.client(owner) as client:
        for path in GETS:
            for param in parameters(path, "path"):
                for name, value in PATH_VALUES.items():
                    answer = client.get(filled(path, **{param["name"]: value}))
                    if accepts(param.get("schema", {}), value) and answer.status_code < 400:
                        continue  # a value the parameter allows, answered normally (nothing found, say)
                    refused_in_chinese(answer, f"GET {path} {param['name']}={name}")
        answer = client.get("/api/me/..%2F..%2Fconfig.yaml")
        refused_in_chinese(answer, "a path below /api/me")


def raw_get(live: LiveConsole, target: bytes, login: Login) -> bytes:
    """A request line the client libraries would not send: raw bytes, as a hostile client can."""
    host, port = live.base.removeprefix("http://").rsplit(":", 1)
    cookie = f"qunguan_session={login.session}".encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nCookie: " + cookie + b"\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(CHUNK):
            data += chunk
    return data


def test_raw_bytes_that_are_not_utf8_get_400_and_the_console_keeps_serving(live: LiveConsole, owner: Login) -> None:
    for path in GETS:
        for target in (filled(path).encode() + b"?q=\xff\xfe\xc3\x28", filled(path).encode() + b"/\xff..\xfe"):
            status_line = raw_get(live, target, owner).split(b"\r\n", 1)[0]
            assert status_line == b"HTTP/1.1 400 Bad Request", (target, status_line)
    with live.client(owner) as client:
        assert client.get("/api/me").status_code == 200


# -- bodies too big


def request(chunks: Iterator[bytes], headers: dict[str, str] | None = None) -> tuple[Request, list[int]]:
    """A request whose body arrives in chunks as the server reads it; `pulled` counts what was read."""
    pulled: list[int] = []

    async def receive() -> dict[str, Any]:
        chunk = next(chunks, b"")
        pulled.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": bool(chunk)}

    raw = [(k.lower().encode(), v.encode()) for k, v in {"content-type": "application/json", **(headers or {})}.items()]
    scope = {"type": "http", "method": "POST", "path": "/api/x", "query_string": b"", "headers": raw}
    return Request(scope, receive), pulled


def ten_mb() -> Iterator[bytes]:
    yield b'{"yaml": "'
    for _ in range(TEN_MB // CHUNK):
        yield b"a" * CHUNK


async def test_a_10_mb_json_body_is_refused_after_reading_little_more_than_the_limit() -> None:
    req, pulled = request(ten_mb())
    with pytest.raises(BadInput, match="请求太大"):
        await guard.json_body(req)
    assert sum(pulled) <= MAX_JSON + CHUNK < TEN_MB


async def test_a_body_that_says_it_is_10_mb_is_refused_before_any_of_it_is_read() -> None:
    req, pulled = request(ten_mb(), {"content-length": str(TEN_MB)})
    with pytest.raises(BadInput, match="请求太大"):
        await guard.json_body(req)
    assert sum(pulled) == 0


async def test_a_json_body_within_the_limit_is_read_whole() -> None:
    body = b'{"yaml": "' + b"a" * (MAX_JSON - 20) + b'"}'
    req, _ = request(iter([body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]))
    assert len((await guard.json_body(req))["yaml"]) == MAX_JSON - 20


async def test_a_10_mb_form_is_not_read_past_its_limit() -> None:
    req, pulled = request(ten_mb(), {"content-type": "application/x-www-form-urlencoded"})
    assert await guard.form(req) == {}
    assert sum(pulled) <= MAX_FORM + CHUNK


def test_every_documented_write_answers_a_10_mb_body_without_failing(live: LiveConsole) -> None:
    """Over the wire, signed in, with the CSRF header: refused in Chinese (or ignored by a write that reads no
    body), never a 500. A fresh login each time: a write such as /api/logout ends the session."""
    for path, method in WRITES:
        login = live.login("boss")
        with live.client(login) as client:
            answer = client.request(method.upper(), filled(path, method), content=ten_mb())
        assert answer.status_code < 500, (method, path, answer.text[:300])
        if answer.status_code >= 400:
            refused_in_chinese(answer, f"{method.upper()} {path} with 10 MB")
