"""A text's and an expression's refs (which variables and member fields a render reads, so which are loaded
before it) are found by walking the parsed tree (bot/playbook/refs.py); they must equal what Jinja's own
`find_undeclared_variables` says, over every text and expression there is: the shipped playbooks, every
playbook and string in the tests, and hostile templates. A ref missed would render empty and skip a send."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from jinja2 import TemplateSyntaxError, meta, nodes

from bot.playbook import simple
from bot.playbook.errors import Problems
from bot.playbook.loader import parse_yaml
from bot.playbook.refs import survey
from bot.playbook.templates import ENV, Expr, Text, _plain_syntax_error

ROOT = Path(__file__).resolve().parent.parent

HOSTILE_TEXTS = [
    "{{ member.name }} 签到成功",
    "{{ member['name'] }}{{ member[key] }}{{ member.tags[0] }}{{ coupon.code | upper }}",
    "{% for member in room.members %}{{ member.name }}{{ loop.index }}{% endfor %}{{ member.points }}",
    "{% for x in xs %}{{ x.a }}{% else %}{{ y.b }}{% endfor %}{{ x.c }}",
    "{% for k, v in d.items() if v.ok %}{{ k }}={{ v.n }}{% endfor %}",
    "{% set member = {'name': 'x'} %}{{ member.name }}{{ coupon.code }}",
    "{{ member.name }}{% set member = 1 %}{{ member }}",
    "{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}",
    "{% set block %}{{ member.name }}{% endset %}{{ block }}{{ points.total }}",
    "{% if member.role == 'admin' %}{{ member.name }}{% elif room %}{{ room.topic }}{% else %}{{ x }}{% endif %}",
    "{% if a %}{% set b = 1 %}{% endif %}{{ b }}",
    "{% macro greet(who, n=member.points) %}{{ who.name }}{{ n }}{{ caller() }}{% endmacro %}{{ greet(member) }}",
    "{% call greet(member) %}{{ coupon.code }}{% endcall %}",
    "{% with m = member %}{{ m.name }}{{ member.id }}{% endwith %}{{ m }}",
    "{% filter upper %}{{ member.name }}{% endfilter %}",
    "{{ range(3) | list }}{{ lipsum }}{{ dict(a=1) }}{{ cycler }}{{ joiner }}{{ namespace }}",
    "{{ self }}{{ loop.index }}{{ caller }}{{ varargs }}{{ kwargs }}",
    "{{ member.name if member.name else '朋友' }}{{ (a or b).c }}{{ not c.d }}{{ -e.f + g.h * 2 ** i.j }}",
    "{{ member.name ~ '!' }}{{ [a.x, b.y][0] }}{{ {'k': c.z}['k'] }}{{ (d.w, e.v) }}{{ s[1:n.m] }}",
    "{{ member.items }}{{ member.keys() }}{{ member.get('name') }}{{ member.name.upper() }}",
    "{{ xs | map(attribute='name') | join(', ') }}{{ xs | selectattr('vip') | list }}{{ v | default(w.q) }}",
    "{{ a is defined and b is not none }}{{ c.d is divisibleby(e.f) }}{{ 'x' in member.name }}",
    "{{ member[0] }}{{ member[1.5] }}{{ member[none] }}{{ member['na' ~ 'me'] }}{{ member.name.first }}",
    "{# {{ hidden }} #}{% raw %}{{ raw }}{% endraw %}{{ shown }}",
    "{%- if x -%} {{- y.z -}} {%- endif -%}",
    "{% for a in b %}{% for c in a.d %}{{ c.e }}{{ a.f }}{{ g.h }}{% endfor %}{% endfor %}",
    "{% set x, y = member.name, coupon %}{{ x }}{{ y.code }}",
    "{% for member in members %}{% endfor %}{{ member.name }}",
    "{% if x %}{% for member in y %}{{ member.a }}{% endfor %}{% else %}{{ member.b }}{% endif %}",
    "{{ f(a=b.c, *d, **e) }}{{ g(h)(i) }}",
]
HOSTILE_EXPRESSIONS = [
    "member.role == 'member'",
    "warn.count >= 3 or member.days_in_room < 1",
    "checkin.already",
    "not (a.b and c['d']) or e[f].g",
    "member.name is defined and member.name != ''",
    "x if y.z else w.v",
    "range(3) | list | length > member.points",
    "member.tags | select('eq', 'vip') | list",
    "[a, b.c] | first",
    "{'k': member.id}.k",
    "a < b.c <= d['e'] != f",
    "'x' in member.name",
    "(lambda)",
    "member.",
    "a b",
    "a == b == ",
    "member | nosuchfilter",
    "member is nosuchtest",
    "x }} {{ y",
    "a) or (b",
    "1 +",
    "",
    "   ",
    "{{ x }}",
    "namespace(a=1).a",
    "self",
    "loop.index > 1",
]


def _jinja_refs(tree: nodes.Template) -> frozenset[tuple[str, str | None]]:
    """The refs as they were found before, through Jinja's code generator."""
    names = meta.find_undeclared_variables(tree)
    out: set[tuple[str, str | None]] = {(n, None) for n in names}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        base = node.node
        if not (isinstance(base, nodes.Name) and base.name in names):
            continue
        if isinstance(node, nodes.Getattr):
            out.add((base.name, node.attr))
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            out.add((base.name, node.arg.value))
    return frozenset(out)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _from_yaml(text: str) -> Iterator[str]:
    """Its strings, when it is YAML a playbook could be (read as the loader reads it: no alias bomb expands)."""
    doc = parse_yaml(text, "x.yaml", Problems()) if ":" in text or "-" in text else None
    if doc is not None and isinstance(doc.data, (dict, list)):
        yield from _strings(doc.data)


def _candidates() -> list[str]:
    """Every string of every playbook and YAML file in the repository, and every string in the tests (inline
    playbooks are read as YAML too), with the hostile ones above."""
    found: set[str] = {*HOSTILE_TEXTS, *HOSTILE_EXPRESSIONS}
    for pattern in ("playbooks/**/*.yaml", "playbooks/**/*.yml", "tests/**/*.yaml", "docs/**/*.yaml"):
        for file in ROOT.glob(pattern):
            if "node_modules" not in file.parts:
                found.update(_from_yaml(file.read_text("utf-8", errors="replace")))
    for file in ROOT.glob("tests/**/*.py"):
        if "node_modules" in file.parts:
            continue
        for node in ast.walk(ast.parse(file.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
                found.update(_from_yaml(node.value))
    return sorted(found)


CANDIDATES = _candidates()
TEMPLATES = [s for s in CANDIDATES if any(m in s for m in ("{{", "{%", "{#"))]


def _jinja_template(source: str) -> nodes.Template | None:
    try:
        return ENV.parse(source)
    except TemplateSyntaxError:
        return None


def _jinja_expression(source: str) -> nodes.Template | str:
    """The wrapped tree Jinja's refs were read from, or the error an operator was shown."""
    try:
        ENV.compile_expression(source, undefined_to_none=False)
        return ENV.parse("{{ (" + source + ") }}")
    except TemplateSyntaxError as exc:
        return str(_plain_syntax_error(exc, expression=True))


def test_the_corpus_is_large_and_has_every_shape() -> None:
    """The comparison below means something only over many texts, with loops, sets and macros among them."""
    assert len(TEMPLATES) > 300
    shapes = [_jinja_template(s) for s in TEMPLATES]
    for kind in (nodes.For, nodes.Assign, nodes.AssignBlock, nodes.Macro, nodes.CallBlock, nodes.With, nodes.If):
        assert any(t is not None and t.find(kind) is not None for t in shapes), kind


@pytest.mark.parametrize("batch", range(8))
def test_text_refs_equal_jinjas(batch: int) -> None:
    for source in TEMPLATES[batch::8]:
        tree = _jinja_template(source)
        if tree is None:
            with pytest.raises(TemplateSyntaxError):
                Text(source)
            continue
        try:
            expected = _jinja_refs(tree)
        except TemplateSyntaxError:  # a filter or test that does not exist: refused when loaded
            with pytest.raises(TemplateSyntaxError):
                Text(source)
            continue
        assert Text(source).refs == expected, source


@pytest.mark.parametrize("batch", range(8))
def test_expression_refs_and_errors_equal_jinjas(batch: int) -> None:
    for source in CANDIDATES[batch::8]:
        jinja = _jinja_expression(source)
        if isinstance(jinja, str):
            with pytest.raises(TemplateSyntaxError) as refused:
                Expr(source)
            assert str(refused.value) == jinja, source
        else:
            assert Expr(source).refs == _jinja_refs(jinja), source


def test_a_tree_that_declares_a_name_is_jinjas_to_answer() -> None:
    """`{% for member in ... %}` shadows the run's `member` inside the loop only: the walk does not guess."""
    plain = survey(ENV.parse("{{ member.name }}{{ room is defined }}"))
    assert plain.plain
    assert not survey(ENV.parse("{% for member in xs %}{{ member.name }}{% endfor %}")).plain
    assert not survey(ENV.parse("{% set member = 1 %}{{ member }}")).plain
    assert Text("{% for member in xs %}{{ member.name }}{% endfor %}").refs == {("xs", None)}
    assert Text("{{ range(3) | list }}{{ member.name }}").refs == {("member", None), ("member", "name")}


def test_an_expression_compiled_only_when_its_plan_gives_up_answers_as_before() -> None:
    expr = Expr("member.points | int > 3")
    assert expr.evaluate({"member": {"points": "5"}}) is True
    plain = Expr("member.role == 'member'")
    assert plain.evaluate({"member": {"role": "member"}}) is True
    assert plain.evaluate({"member": type("M", (), {"role": "member"})()}) is True  # not a dict: Jinja answers


SIMPLE_SHAPES = [
    "{{ member.name }}",
    "「款0001」有货，{{ member.name }} 可以到店看看。",
    "{{member.name}}{{ coupon.code }}\n{{ room.topic }} 第{{ checkin.streak }}天",
    "line one\nline two {{ a.b.c }}\r\nline three\r{{ d }}\n",
    "{{\n  member.name\n}} 你好\n\n",
    "trailing newline {{ x }}\n",
    "two trailing newlines {{ x }}\n\n",
    "{{ x }}}",
    "a }} b {{ c }}",
    "{ {{ x }} }",
    "{{ x }}{{ y }}",
    "\n\n{{ x }}",
    "{{ _private.__class__ }}",
    "{{ self }}",
    "{{ member.true }}",
    "{{ none }}",
    "{{ true }}",
    "{{ not_a_keyword.andy }}",
    "{{ a.if }}",
    "{{ x.0 }}",
    "{{ a . b }}",
    "{{ 名字 }}",
    "{{ x }",
    "{{ x",
    "{{{ x }}",
    "{{ x }} {% if y %}{% endif %}",
    "{{ x }} {# note #}",
    "{{- x -}}",
    "{{+ x }}",
    "{{ x | upper }}",
    "{{ 'a' }}",
    "  {{ x }}  ",
    "\t{{ x }}\t\n",
]


def _same_tree(fast: nodes.Node, jinja: nodes.Node) -> None:
    assert fast == jinja  # node types and fields, all the way down
    pairs = [(fast, jinja)]
    while pairs:
        a, b = pairs.pop()
        assert (a.lineno, a.environment) == (b.lineno, b.environment), (a, b)
        pairs.extend(zip(a.iter_child_nodes(), b.iter_child_nodes(), strict=True))


@pytest.mark.parametrize("source", SIMPLE_SHAPES)
def test_a_simple_text_is_built_as_jinja_parses_it(source: str) -> None:
    fast = simple.parse(source, ENV)
    jinja = _jinja_template(source)
    if fast is not None:
        assert jinja is not None, source
        _same_tree(fast, jinja)


def test_every_text_built_directly_is_the_tree_jinja_parses() -> None:
    built = 0
    for source in [*TEMPLATES, *SIMPLE_SHAPES]:
        fast = simple.parse(source, ENV)
        if fast is not None:
            built += 1
            jinja = _jinja_template(source)
            assert jinja is not None, source
            _same_tree(fast, jinja)
    assert built > 100  # most texts are of the simple shapes
    for source in ("{{ x }", "{{ x | upper }}", "{{ none }}", "{{ a . b }}", "{{ x }} {# note #}", "{{- x -}}"):
        assert simple.parse(source, ENV) is None, source
