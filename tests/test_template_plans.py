"""Texts and conditions rendered by a plan (bot/playbook/fastpath.py) read exactly as plain sandboxed Jinja reads
them: the same text, the same error, the same skipped send, for every template and expression the shipped and
test playbooks hold and for hostile values (a member named `{{ 7*7 }}`, missing fields, None, objects)."""

from __future__ import annotations

import ast
import functools
import random
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from textwrap import dedent
from types import MappingProxyType
from typing import Any

import pytest
import yaml
from jinja2 import nodes
from markupsafe import Markup

from bot.playbook.templates import ENV, EmptyValue, Expr, RenderError, Text, _guard

ROOT = Path(__file__).resolve().parent.parent
CHECKIN = (
    "{{ member.name }} 签到成功！连续 {{ checkin.streak }} 天，+{{ checkin.points }} 分，共 {{ member.points }} 分"
)
_MARKERS = ("{{", "{%", "{#")


# -- every text and expression there is


def _walk(value: object, texts: set[str], exprs: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "expr" and isinstance(item, str):
                exprs.add(item)
            _walk(item, texts, exprs)
    elif isinstance(value, list):
        for item in value:
            _walk(item, texts, exprs)
    elif isinstance(value, str) and any(m in value for m in _MARKERS):
        texts.add(value)


def _yaml_documents(text: str) -> Iterator[object]:
    try:
        yield from yaml.safe_load_all(text)
    except yaml.YAMLError:
        return


def _python_strings(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def _corpus() -> tuple[list[str], list[str]]:
    texts: set[str] = set()
    exprs: set[str] = set()
    for path in [*(ROOT / "playbooks").rglob("*.yaml"), *(ROOT / "tests").rglob("*.yaml")]:
        for document in _yaml_documents(path.read_text("utf-8")):
            _walk(document, texts, exprs)
    for path in (ROOT / "tests").rglob("test_*.py"):
        for string in _python_strings(path):
            if "expr" in string or any(m in string for m in _MARKERS):
                for document in _yaml_documents(dedent(string)):
                    _walk(document, texts, exprs)
    return sorted(t for t in texts if _loads(Text, t)), sorted(e for e in exprs if _loads(Expr, e))


def _loads(kind: type[Text] | type[Expr], source: str) -> bool:
    try:
        kind(source)
    except Exception:
        return False
    return True


# Shapes written for the plans' edges: dict attributes, globals, `self`, guards, whitespace control, raw blocks.
EDGE_TEXTS = [
    "{{ member.name }}",
    "{{ member['name'] }}，{{ member['items'] }}",
    "{{ member.items }} {{ member.keys }} {{ member.get }}",
    "{{ member.__class__ }}",
    "{{ member._secret }}",
    "{{ self }}",
    "{{ range }} {{ dict }}",
    "{{ message.groups.date }}",
    "{{ coupon.code }} / {{ coupon['code'] }} / {{ coupon.title }} / {{ coupon.expires }}",
    "{{ room.topic }}：{{ warn.count }}",
    "{{ exchange.code or exchange.none }}",
    "{{ member.name and member.points }}",
    "{{ not member.points }}",
    "{{ member.points == 1 }} {{ member.points < checkin.streak <= 9 }}",
    "{{ 'x' in member.name }} {{ member.name not in 'abc' }}",
    "{{ member is defined }} {{ inviter is not defined }} {{ room is undefined }} {{ room is none }}",
    "  {{- member.name -}}  \n",
    "{% raw %}{{ member.name }}{% endraw %}",
    "{# a note #}{{ member.name }}",
    "{{ 1 }}{{ 'x' }}{{ none }}{{ true }}{{ 2.5 }}",
    "{{ member.name ~ '!' }}",
    "{{ member.0 }}",
    "{{ now }}",
    "{% if member.name %}{{ member.name }}{% endif %}",
    "{{ member.name | upper }}",
    "\n\n{{ member.name }}\n\n",
    "满 100% 返 {{ member.points }}%s %% %(name)s",
    "{# only a note #}",
]
EDGE_EXPRS = [
    "member.items",
    "member.keys == 1",
    "member['name'] == '会员1'",
    "a == 'x'",
    "'x' in a",
    "a not in 'abc'",
    "1 < a < 10",
    "a is undefined",
    "a is defined and a",
    "a != none",
    "not (a or b)",
    "a and b or c",
    "range",
    "self",
    "a.b.c >= 2",
    "a + 1 > 2",
    "a is none",
    "true",
    "0",
]

TEXTS, EXPRS = _corpus()


# -- values, tame and hostile


class Profile:
    """An object, not a dict: only Jinja's sandbox may look at it (and reads `name` once)."""

    def __init__(self) -> None:
        self._secret = "token"
        self.reads = 0

    @property
    def name(self) -> str:
        self.reads += 1
        return "对象"

    def __repr__(self) -> str:
        return "Profile()"


class Shown(str):
    pass


class Fields(dict[str, Any]):
    """A dict that answers attributes itself: the sandbox asks for the attribute first."""

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return f"属性{name}"


class Loud:
    """A value whose text is made by its own code: Jinja runs that code once per output, never more."""

    def __init__(self) -> None:
        self.shown = 0
        self.asked = 0

    def __str__(self) -> str:
        self.shown += 1
        return "响亮"

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance() asks for it
        self.asked += 1
        return Loud


SCALARS: list[Any] = ["会员1", "", "   ", "{{ 7*7 }}", "{% for x in y %}", "x", 0, 7, -1, 10, 2.5, True, False, None]
ODD: list[Any] = [[], [1, 2], (), {}, Markup("<b>"), Shown("派生"), datetime(2026, 12, 2, 8, 0), 10**5000, Profile()]
MISSING = object()


def _chains(node: nodes.Node) -> list[tuple[str, ...]]:
    """Each `a.b.c` the source reads, as ('a', 'b', 'c')."""
    found = []
    for item in node.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        keys: list[str] = []
        while isinstance(item, (nodes.Getattr, nodes.Getitem)):
            if isinstance(item, nodes.Getattr):
                keys.append(item.attr)
            elif isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str):
                keys.append(item.arg.value)
            else:
                keys.append("0")
            item = item.node
        if isinstance(item, nodes.Name):
            found.append((item.name, *reversed(keys)))
    return [chain for chain in found if not any(len(c) > len(chain) and c[: len(chain)] == chain for c in found)]


def _value(rng: random.Random, rest: tuple[str, ...]) -> Any:
    if rest and rng.random() < 0.75:
        inner = _value(rng, rest[1:])
        fields: dict[str, Any] = {"other": 1}
        if inner is not MISSING:
            fields[rest[0]] = inner
        if rng.random() < 0.1:
            return Fields(fields)
        return fields
    roll = rng.random()
    if roll < 0.08:
        return MISSING
    if roll < 0.85 and not rest:
        return rng.choice(SCALARS)
    return rng.choice(SCALARS + ODD)


def _variables(rng: random.Random, tree: nodes.Node) -> dict[str, Any]:
    variables: dict[str, Any] = {"now": datetime(2026, 12, 2, 8, 0), "bot": {"name": "小助手"}}
    for chain in _chains(tree):
        value = _value(rng, chain[1:])
        if value is MISSING:
            variables.pop(chain[0], None)
        elif chain[0] in variables and isinstance(variables[chain[0]], dict) and isinstance(value, dict):
            variables[chain[0]] = {**variables[chain[0]], **value}
        else:
            variables[chain[0]] = value
    if rng.random() < 0.05:
        variables["range"] = "遮住了"
    return variables


def _outcome(call: Any, *args: Any) -> tuple[Any, ...]:
    try:
        return ("ok", call(*args))
    except EmptyValue as empty:
        return ("empty", empty.variable, str(empty))
    except RenderError as error:
        return ("error", str(error), type(error.__cause__).__name__)


# -- plain Jinja, as Text.render and Expr.evaluate read before the plans


@functools.cache
def _jinja_template(source: str) -> Any:
    return ENV.from_string(_guard(ENV.parse(source)))


@functools.cache
def _jinja_expression(source: str) -> Any:
    return ENV.compile_expression(source, undefined_to_none=False)


def jinja_render(source: str, variables: Mapping[str, Any]) -> str:
    template = _jinja_template(source)
    try:
        return template.render(variables).strip()
    except Exception as exc:
        if isinstance(exc, EmptyValue):
            raise
        raise RenderError(f"template {source!r}: {exc}") from exc


def jinja_evaluate(source: str, variables: Mapping[str, Any]) -> bool:
    compiled = _jinja_expression(source)
    try:
        return bool(compiled(variables))
    except Exception as exc:
        raise RenderError(f"expression {source!r}: {exc}") from exc


def _cases(sources: list[str], per_source: int, parse: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    rng = random.Random(17)
    for source in sources:
        tree = parse(source)
        for _ in range(per_source):
            yield source, _variables(rng, tree)


@functools.cache
def _text(source: str) -> Text:
    return Text(source)


@functools.cache
def _expr(source: str) -> Expr:
    return Expr(source)


def test_the_corpus_holds_the_shipped_texts_and_conditions() -> None:
    """The comparison below covers what runs in production (not an empty list by a broken walk)."""
    assert CHECKIN in TEXTS
    assert "checkin.already" in EXPRS
    assert "warn.count >= 3 or member.days_in_room < 1" in EXPRS
    assert len(TEXTS) > 40
    assert len(EXPRS) > 10


def test_every_text_renders_as_jinja_renders_it() -> None:
    sources = TEXTS + EDGE_TEXTS
    planned = 0
    for source, variables in _cases(sources, 120, ENV.parse):
        text = _text(source)
        planned += text._plan is not None
        got, want = _outcome(text.render, variables), _outcome(jinja_render, source, variables)
        assert got == want, (source, variables)
    assert planned > len(sources) * 60  # most texts have a plan: the comparison exercises it


def test_every_condition_evaluates_as_jinja_evaluates_it() -> None:
    sources = EXPRS + EDGE_EXPRS
    for source, variables in _cases(sources, 200, lambda s: ENV.parse("{{ (" + s + ") }}")):
        expr = _expr(source)
        got, want = _outcome(expr.evaluate, variables), _outcome(jinja_evaluate, source, variables)
        assert got == want, (source, variables)


RUN = {
    "now": datetime(2026, 12, 2, 8, 0),
    "member": {"id": "wxid_1", "name": "会员1", "role": "member", "points": 10},
    "inviter": None,
    "room": {"id": "r1@chatroom", "topic": "福利1群"},
    "checkin": {"already": False, "streak": 3, "points": 5},
}


def test_the_check_in_text_and_condition_are_answered_by_their_plans() -> None:
    """The hot path's shapes have plans, and the plans answer a check-in's variables themselves."""
    text, expr = Text(CHECKIN), Expr("checkin.already")
    assert text._plan is not None and expr._plan is not None
    assert text._plan(RUN) == "会员1 签到成功！连续 3 天，+5 分，共 10 分"
    assert expr._plan(RUN) is False
    assert Expr("warn.count >= 3 or member.days_in_room < 1")._plan is not None
    assert Text("{% for c in member.wallet %}{{ c.code }}{% endfor %}")._plan is None


def test_the_plan_itself_keeps_percent_signs_and_a_members_name_as_written() -> None:
    text = Text("满 100%% 返 {{ member.points }}%s %(name)s，{{ member.name }}")
    variables = {"member": {"name": "%s{{ 7*7 }}", "points": 3}}
    assert text._plan is not None
    assert text._plan(variables) == "满 100%% 返 3%s %(name)s，%s{{ 7*7 }}" == jinja_render(text.source, variables)


def test_a_member_named_like_a_template_is_shown_as_typed() -> None:
    variables = {**RUN, "member": {**RUN["member"], "name": "{{ 7*7 }}{% if 1 %}x{% endif %}"}}
    assert Text(CHECKIN).render(variables) == "{{ 7*7 }}{% if 1 %}x{% endif %} 签到成功！连续 3 天，+5 分，共 10 分"


def test_an_object_is_read_by_the_sandbox_once_and_its_private_fields_stay_out_of_reach() -> None:
    profile = Profile()
    assert Text("{{ member.name }}").render({"member": profile}) == "对象"
    assert profile.reads == 1
    with pytest.raises(RenderError, match="unsafe"):
        Text("{{ member._secret }}").render({"member": profile})


def test_a_value_with_its_own_code_runs_it_once_even_when_the_text_then_fails() -> None:
    loud = Loud()
    outcome = _outcome(Text("{{ member }} {{ checkin.streak }}").render, {"member": loud, "checkin": None})
    assert outcome[0] == "error"
    assert loud.shown == 1
    assert Expr("member == 1 or member").evaluate({"member": loud}) is True
    assert loud.shown == 1
    asked = loud.asked
    outcome = _outcome(Expr("member is defined and nobody").evaluate, {"member": loud})
    assert outcome[0] == "error"
    assert loud.asked == asked + 1


@pytest.mark.parametrize(
    ("variables", "outcome"),
    [
        ({**RUN, "member": {**RUN["member"], "name": "  "}}, ("empty", "member.name", "'member.name' is empty")),
        ({**RUN, "member": None}, ("empty", "member.name", "'member.name' is empty")),
        (
            {**RUN, "checkin": None},
            ("error", f"template {CHECKIN!r}: 'None' has no attribute 'streak'", "UndefinedError"),
        ),
    ],
)
def test_a_text_the_plan_gives_up_on_gets_jinjas_answer(variables: dict[str, Any], outcome: tuple[Any, ...]) -> None:
    assert _outcome(Text(CHECKIN).render, variables) == outcome


def test_variables_that_jinja_cannot_take_as_names_are_refused_as_before() -> None:
    """Jinja passes the variables as keywords: a key that is not a string is an error, with or without a plan."""
    odd: dict[Any, Any] = {**RUN, 1: "x"}
    assert _outcome(Text(CHECKIN).render, odd) == _outcome(jinja_render, CHECKIN, odd)
    assert _outcome(Expr("checkin.already").evaluate, odd) == _outcome(jinja_evaluate, "checkin.already", odd)
    frozen = MappingProxyType(RUN)
    assert Text(CHECKIN).render(frozen) == "会员1 签到成功！连续 3 天，+5 分，共 10 分"
