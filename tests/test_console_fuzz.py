"""The console's API fuzzed from its own OpenAPI document (schemathesis), so it covers whatever /api/openapi.json
lists when it runs: no 500s, answers as documented (status, content type, body schema), valid input accepted and
invalid input refused; and no way round the guard: no session -> 401 on every route but the public ones, a staff
session -> 403 on every write that needs more, a write without the CSRF header -> 403.

Also the document itself: valid OpenAPI 3.1, and it lists exactly the app's /api/ routes (a section that adds an
undocumented route, or documents one it does not serve, fails here).

Bounded and repeatable: a few examples per operation, derandomized (the same cases on every run), no deadline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
import jsonschema
import pytest
import schemathesis
from console_live import LiveConsole, Login
from hypothesis import HealthCheck, Phase
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.definitions import OPENAPI_31
from starlette.convertors import StringConvertor
from starlette.routing import BaseRoute, Mount, Route

from bot.console import api, sections
from bot.console.app import create_app
from bot.console.guard import READS
from bot.registry import RANK

pytestmark = pytest.mark.slow

EXAMPLES = 15  # generated cases per operation and generation mode
PUBLIC = {"/api/openapi.json"}  # describes the API, holds no data
PUBLIC_PREFIXES = ("/login/", "/static")  # a login link's page and its POST; the static files
CONVERTOR = re.compile(r"\{(\w+):\w+\}")  # Starlette's {id:int} is OpenAPI's {id}
METHODS = ("get", "put", "post", "delete", "patch")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found, quickly
    suppress_health_check=list(HealthCheck),
)


def document() -> dict[str, Any]:
    """The document the console serves, built from the same pieces (a test checks they agree)."""
    return {**api.OPENAPI, "paths": {**api.OPENAPI["paths"], **sections.openapi_paths()}}


OPERATIONS = [(path, method) for path, item in document()["paths"].items() for method in item if method in METHODS]
WRITES = [(path, method) for path, method in OPERATIONS if method.upper() not in READS]


def routes(live: LiveConsole) -> list[tuple[str, Route]]:
    """Every route of the app as (its path as the OpenAPI document writes it, the route), mounts opened."""
    found: list[tuple[str, Route]] = []

    def walk(prefix: str, items: list[BaseRoute]) -> None:
        for item in items:
            if isinstance(item, Route):
                found.append((CONVERTOR.sub(r"{\1}", prefix + item.path), item))
            elif isinstance(item, Mount):
                walk(prefix + item.path, item.routes)

    walk("", create_app(live.console).routes)
    return found


def example_url(path: str, route: Route) -> str:
    """The path with each parameter filled in: a number where the route wants one, else the parameter's name."""
    numbers = {name for name, kind in route.param_convertors.items() if not isinstance(kind, StringConvertor)}
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m[1] in numbers else m[1], path)


def needed_role(endpoint: Callable[..., Any]) -> str | Callable[..., str]:
    """The role `guard.guarded` was given for this endpoint (it keeps it in its closure); a route that was not
    wrapped by `guarded` has none, which is itself a failure."""
    names = getattr(endpoint, "__code__", None)
    cells = getattr(endpoint, "__closure__", None) or ()
    found = dict(zip(names.co_freevars if names else (), (c.cell_contents for c in cells), strict=True))
    assert "role" in found and "handler" in found, f"{endpoint.__qualname__} is not wrapped by guard.guarded"
    role: str | Callable[..., str] = found["role"]
    return role


class Sessions:
    """Logins by member, made again when a case ended one (a fuzzed POST /api/logout does)."""

    def __init__(self, live: LiveConsole) -> None:
        self.live = live
        self.logins: dict[str, Login] = {}

    def of(self, member_id: str) -> Login:
        login = self.logins.get(member_id)
        if login is None or not self.alive(login):
            login = self.logins[member_id] = self.live.login(member_id)
        return login

    def alive(self, login: Login) -> bool:
        with self.live.client(login) as client:
            return client.get("/api/me").status_code == 200

    def refused(self, login: Login, answer: Response) -> None:
        """A 401 to a logged-in call is right only if the session had really ended."""
        if answer.status_code == 401:
            assert not self.alive(login), f"a live session of {login.member_id} got 401: {answer.text[:300]}"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    with LiveConsole.start(tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture(scope="module")
def sessions(live: LiveConsole) -> Sessions:
    return Sessions(live)


@pytest.fixture(scope="module")
def schema(live: LiveConsole) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(live.base + "/api/openapi.json")


def fuzz(
    schema: schemathesis.BaseSchema, path: str, method: str, mode: GenerationMode, body: Callable[[Case], None]
) -> None:
    operation = schema[path][method.upper()]

    @SETTINGS
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def each(case: Case) -> None:
        body(case)

    each()


def missed(answer: Response) -> bool:
    """Starlette's own 404 when no route matches the URL as sent (the client folds a generated `.` or `..` path
    parameter away): no handler ran, so nothing got past the guard either. The documentation test below still
    fails on it: the parameter's schema should not allow such values."""
    return answer.status_code == 404 and answer.text == "Not Found"


def signed_in(case: Case, login: Login) -> Case:
    """The case as a logged-in browser sends it: the session cookie and, on writes, the CSRF header."""
    case.cookies = {**(case.cookies or {}), **login.cookies}
    case.headers = {**(case.headers or {}), **login.headers}
    case._has_explicit_auth = True  # schemathesis's ignored_auth check then replays it without them
    return case


# -- the document


def test_the_document_served_is_valid_openapi_3_1_with_valid_json_schemas(live: LiveConsole) -> None:
    with live.client() as client:
        served = client.get("/api/openapi.json")
    assert served.status_code == 200
    doc = served.json()
    assert doc == document()
    assert doc["openapi"].startswith("3.1.")
    jsonschema.Draft202012Validator(OPENAPI_31).validate(doc)
    schemes = set(doc["components"]["securitySchemes"])
    for path, method in OPERATIONS:
        spec = doc["paths"][path][method]
        for requirement in spec.get("security", []):
            assert set(requirement) <= schemes, (path, method, requirement)
        schemas = [p["schema"] for p in spec.get("parameters", [])]
        for content in [spec.get("requestBody", {}), *spec["responses"].values()]:
            schemas += [media["schema"] for media in content.get("content", {}).values() if "schema" in media]
        for one in schemas:
            jsonschema.Draft202012Validator.check_schema(one)
        templated = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        declared = {p["name"] for p in spec.get("parameters", []) if p["in"] == "path"}
        assert templated == declared, f"{method.upper()} {path}: path parameters {templated} declared {declared}"


def test_every_api_route_is_documented_and_every_documented_operation_is_served(live: LiveConsole) -> None:
    served = {
        (path, method.lower())
        for path, route in routes(live)
        if path.startswith("/api/") and path not in PUBLIC
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert served - set(OPERATIONS) == set(), "routes under /api/ missing from the OpenAPI document"
    assert set(OPERATIONS) - served == set(), "operations in the OpenAPI document that no route serves"


# -- no way round the guard


def test_every_route_but_the_public_ones_is_guarded_and_answers_401_without_a_session(live: LiveConsole) -> None:
    checked = []
    with live.client() as client:
        for path, route in routes(live):
            if path in PUBLIC or path.startswith(PUBLIC_PREFIXES):
                continue
            needed_role(route.endpoint)
            for method in sorted((route.methods or set()) - {"HEAD"}):
                answer = client.request(method, example_url(path, route))
                assert answer.status_code == 401, (method, path, answer.status_code, answer.text[:200])
                if path.startswith("/api/"):
                    assert answer.json() == {"error": "未登录"}
                else:
                    assert "/后台" in answer.text
                checked.append((method, path))
    assert ("GET", "/api/me") in checked and ("GET", "/") in checked


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_fuzzed_calls_without_a_session_answer_401(
    live: LiveConsole, schema: schemathesis.BaseSchema, path: str, method: str
) -> None:
    def each(case: Case) -> None:
        answer = case.call(base_url=live.base)
        if missed(answer):
            return
        assert answer.status_code == 401, answer.text[:300]
        assert answer.json() == {"error": "未登录"}

    fuzz(schema, path, method, GenerationMode.POSITIVE, each)


@pytest.mark.parametrize(("path", "method"), WRITES)
def test_a_staff_session_gets_403_on_every_write_that_needs_more(
    live: LiveConsole, sessions: Sessions, schema: schemathesis.BaseSchema, path: str, method: str
) -> None:
    (route,) = [r for p, r in routes(live) if p == path and method.upper() in (r.methods or ())]
    role = needed_role(route.endpoint)
    needed = role(live.console.config) if callable(role) else role

    def each(case: Case) -> None:
        login = sessions.of("clerk")
        answer = signed_in(case, login).call(base_url=live.base)
        if missed(answer):
            return
        refused = answer.status_code == 403 and answer.json() == {"error": "没有权限"}
        if RANK[needed] > RANK["staff"]:
            assert refused, (answer.status_code, answer.text[:300])
        else:
            assert not refused, f"{method.upper()} {path} is staff's ({needed}) but was refused"
            sessions.refused(login, answer)

    fuzz(schema, path, method, GenerationMode.POSITIVE, each)


@pytest.mark.parametrize(("path", "method"), WRITES)
def test_a_write_without_the_csrf_header_is_refused(
    live: LiveConsole, sessions: Sessions, schema: schemathesis.BaseSchema, path: str, method: str
) -> None:
    def each(case: Case) -> None:
        login = sessions.of("boss")
        for token in (None, "forged", login.csrf[:-1]):
            sent = signed_in(case, login)
            sent.headers = {k: v for k, v in sent.headers.items() if k.lower() != "x-csrf-token"}
            if token is not None:
                sent.headers["X-CSRF-Token"] = token
            answer = sent.call(base_url=live.base)
            if missed(answer):
                return
            assert answer.status_code == 403, (token, answer.status_code, answer.text[:300])
            assert answer.json() == {"error": "CSRF 校验失败，请刷新页面后再试"}

    fuzz(schema, path, method, GenerationMode.POSITIVE, each)


# -- the fuzzing itself


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_fuzzed_calls_by_the_owner_answer_as_documented(
    live: LiveConsole, sessions: Sessions, schema: schemathesis.BaseSchema, path: str, method: str, mode: GenerationMode
) -> None:
    """No 500, the status, content type and body as documented, input the document forbids refused, and the
    same call without the session's cookie and header refused (schemathesis's ignored_auth replays it)."""
    fuzz(schema, path, method, mode, lambda case: call(live, sessions, case, CHECKS))


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_input_the_document_allows_is_accepted(
    live: LiveConsole, sessions: Sessions, schema: schemathesis.BaseSchema, path: str, method: str
) -> None:
    """The document is as strict as the code: a value its schemas allow is not refused with 422 (a text
    parameter the guard refuses control characters in says so with a `pattern`)."""
    accepted = [positive_data_acceptance]
    fuzz(schema, path, method, GenerationMode.POSITIVE, lambda case: call(live, sessions, case, accepted))


def call(live: LiveConsole, sessions: Sessions, case: Case, checks: list[Any]) -> None:
    login = sessions.of("boss")
    answer = signed_in(case, login).call(base_url=live.base)
    case.validate_response(answer, checks=checks, transport_kwargs={"base_url": live.base})
    sessions.refused(login, answer)
