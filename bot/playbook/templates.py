"""Texts and expressions: Jinja2 in a sandbox, checked against what a run provides.

Only playbook authors write template source; member text reaches templates as
data (a variable's value), never as source, so `{{ 7*7 }}` typed in a group is
just eight characters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined, nodes
from jinja2.parser import Parser
from jinja2.sandbox import SandboxedEnvironment

from bot.playbook import simple
from bot.playbook.errors import did_you_mean
from bot.playbook.fastpath import Plan, plan_expression, plan_text
from bot.playbook.refs import Ref, survey


class _Environment(SandboxedEnvironment):
    def make_globals(self, d: Mapping[str, Any] | None) -> dict[str, Any]:  # type: ignore[override]
        """A template's globals as a plain dict, not Jinja's ChainMap over the environment's: each render copies
        them into its context, and a ChainMap copies several times slower (the globals never change once loaded)."""
        return {**self.globals, **(d or {})}


ENV = _Environment(
    undefined=StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


def _present(value: object) -> bool:
    """`x is defined`: a variable a trigger documents is always there, None when the event has none (a join
    nobody invited, a private message's room); such a None counts as not defined, as it did when it was absent."""
    return value is not None and not isinstance(value, Undefined)


ENV.tests["defined"] = _present
ENV.tests["undefined"] = lambda value: not _present(value)

# Attributes each context variable offers; None means "not checked".
Scope = Mapping[str, frozenset[str] | None]

_MARKERS = ("{{", "{%", "{#")
_CACHED = 4096  # distinct texts and expressions analysed once each (many playbooks share a condition or a text)


# Jinja's parser words for what an operator types.
_TOKENS = {"'end of print statement'": "'}}'", "'end of statement block'": "'%}'", "'end of template'": "the end"}


def _plain_syntax_error(exc: TemplateSyntaxError, *, expression: bool = False) -> TemplateSyntaxError:
    """The same error, worded for someone who writes `{{ member.name }}`, not for a Jinja developer."""
    message = exc.message or "invalid template"
    if expression and message == "chunk after expression":
        message = "more text after a complete expression (compare with '==', combine with 'and' / 'or')"
    elif expression and message.startswith("unexpected 'end of template'"):
        message = "it ends too early (something is missing at its end)"
    elif message.startswith("unexpected end of template, expected 'end of print statement'"):
        message = "'{{' is not closed with '}}'"
    elif message.startswith("unexpected end of template, expected 'end of statement block'"):
        message = "'{%' is not closed with '%}'"
    elif message == "Missing end of comment tag":
        message = "'{#' is not closed with '#}'"
    elif message.startswith("unexpected '}'"):
        message = "unexpected '}': close '{{' with '}}'"
    else:
        for token, plain in _TOKENS.items():
            message = message.replace(token, plain)
    return TemplateSyntaxError(message, exc.lineno, exc.name, exc.filename)


class RenderError(Exception):
    """A template or expression failed while running (logged, never a crash)."""


# Fields a reader must see filled in: a code, a date, a name. A text that would show one of them empty
# (`送你一张回归5元券 ， 前有效`) is not sent at all.
FILLED = frozenset({"code", "expires", "name", "title", "topic"})
_GUARD = "_filled"


class EmptyValue(Exception):
    """A code, a date or a name rendered empty; the caller skips the send and says which variable."""

    def __init__(self, variable: str) -> None:
        super().__init__(f"'{variable}' is empty")
        self.variable = variable


def _filled(value: object, variable: str) -> object:
    if value is None or isinstance(value, Undefined) or not str(value).strip():
        raise EmptyValue(variable)
    return value


ENV.filters[_GUARD] = _filled


def _dotted(node: nodes.Node) -> str | None:
    """'coupon.code' for `{{ coupon.code }}`, `{{ coupon['code'] }}` or `{{ c.code | upper }}`; else None."""
    while isinstance(node, nodes.Filter) and node.node is not None:
        node = node.node
    parts: list[str] = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            return None
        node = node.node
    if not isinstance(node, nodes.Name) or not parts:
        return None
    return ".".join((node.name, *reversed(parts)))


def _guarded(ast: nodes.Template) -> list[tuple[nodes.Output, int, str]]:
    """Each `{{ ... }}` that shows a field of FILLED: its Output node, its position there, and its name."""
    found = []
    for output in ast.find_all(nodes.Output):
        for i, child in enumerate(output.nodes):
            name = None if isinstance(child, nodes.TemplateData) else _dotted(child)
            if name is not None and name.rsplit(".", 1)[1] in FILLED:
                found.append((output, i, name))
    return found


def _guard(ast: nodes.Template, guarded: list[tuple[nodes.Output, int, str]] | None = None) -> nodes.Template:
    """Wrap each guarded value (`guarded`, when the caller has found them) in a check that refuses it empty."""
    for output, i, name in _guarded(ast) if guarded is None else guarded:
        child = output.nodes[i]
        const = nodes.Const(name)
        check = nodes.Filter(child, _GUARD, [const], [], None, None, lineno=child.lineno)
        check.environment = const.environment = ENV  # the value under them has it from the parse
        output.nodes[i] = check
    return ast


def check_refs(refs: frozenset[Ref], scope: Scope, known: Scope, origin: str) -> list[str]:
    """Messages for variables the run will not have; `known` is every variable there is."""
    problems: list[str] = []
    for name, attr in sorted(refs, key=lambda r: (r[0], r[1] or "")):
        if name not in scope:
            if attr is not None:
                continue
            if name in known:
                problems.append(f"'{name}' is not available here: {origin}")
            else:
                problems.append(f"unknown template variable '{name}'{did_you_mean(name, scope)}")
            continue
        attrs = scope[name]
        if attr is not None and attrs is not None and attr not in attrs:
            hint = did_you_mean(attr, attrs, prefix=f"{name}.")
            problems.append(f"unknown template variable '{name}.{attr}'{hint}")
    return problems


def _check_names(named: list[nodes.Filter | nodes.Test]) -> None:
    """The errors Jinja would only raise when compiling: a filter or test that does not exist."""
    for node in named:
        kind, known = ("filter", ENV.filters) if isinstance(node, nodes.Filter) else ("test", ENV.tests)
        if node.name not in known:
            raise TemplateSyntaxError(f"no {kind} named '{node.name}'{did_you_mean(node.name, known)}", node.lineno)


def _unknown_name(named: list[nodes.Filter | nodes.Test]) -> bool:
    return any(node.name not in (ENV.filters if isinstance(node, nodes.Filter) else ENV.tests) for node in named)


@functools.lru_cache(maxsize=_CACHED)
def _text(source: str) -> tuple[frozenset[Ref], frozenset[str], Plan | None]:
    """A template's refs, the fields it must show filled and its plan: once per distinct source."""
    try:
        ast = simple.parse(source, ENV) or ENV.parse(source)
        found = survey(ast)
        _check_names(found.named)
    except TemplateSyntaxError as exc:
        raise _plain_syntax_error(exc) from None
    guarded = _guarded(ast)
    filled = frozenset(name for _output, _i, name in guarded)
    return found.refs(ast, ENV.globals), filled, plan_text(_guard(ast, guarded), _GUARD, ENV)


@functools.lru_cache(maxsize=_CACHED)
def _expression(source: str) -> tuple[frozenset[Ref], Callable[[dict[str, Any]], bool] | None]:
    """An expression's refs and plan, from one parse; anything unusual (an error, a filter that does not exist, a
    name it declares) goes the way Jinja compiles it, whose errors speak of the source as written."""
    try:
        parser = Parser(ENV, source, state="variable")
        tree = parser.parse_expression()
        found = survey(tree)
        if parser.stream.eos and found.plain and not _unknown_name(found.named):
            return found.refs(tree, ENV.globals), plan_expression(tree, ENV)
    except TemplateSyntaxError:
        pass
    try:
        ENV.compile_expression(source, undefined_to_none=False)
        ast = ENV.parse("{{ (" + source + ") }}")
    except TemplateSyntaxError as exc:
        raise _plain_syntax_error(exc, expression=True) from None
    tree = Parser(ENV, source, state="variable").parse_expression()
    return survey(ast).refs(ast, ENV.globals), plan_expression(tree, ENV)


class Text:
    """A text from a playbook. Plain strings skip Jinja entirely (the common case).

    A template is parsed and checked when loaded and compiled when first rendered: compiling is most of the
    cost of loading a thousand playbooks, and many texts never run in a given process. Texts of the common
    shapes (`{{ member.name }}`) are rendered by a plan (bot/playbook/fastpath.py) and reach Jinja only when
    the plan gives up."""

    __slots__ = ("_plan", "_template", "filled", "refs", "source", "templated")

    def __init__(self, source: str) -> None:
        self.source = source
        self._template: Any = None
        self._plan: Callable[[dict[str, Any]], str] | None = None
        self.refs: frozenset[Ref] = frozenset()
        self.filled: frozenset[str] = frozenset()  # the codes, dates and names it shows, like 'coupon.code'
        self.templated = any(m in source for m in _MARKERS)
        if self.templated:
            self.refs, self.filled, self._plan = _text(source)

    def render(self, variables: Mapping[str, Any]) -> str:
        """The text; EmptyValue when a code, a date or a name in it would show empty."""
        if not self.templated:
            return self.source.strip()
        if self._plan is not None and type(variables) is dict:
            try:
                return self._plan(variables).strip()
            except Exception:  # the plan gave up: Jinja answers, with its result or its error
                pass
        try:
            if self._template is None:
                self._template = ENV.from_string(_guard(ENV.parse(self.source)))
            return self._template.render(variables).strip()
        except TemplateError as exc:
            raise RenderError(f"template {self.source!r}: {exc}") from exc
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise RenderError(f"template {self.source!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"Text({self.source!r})"


class Expr:
    """A sandboxed boolean expression (`expr:` conditions, `choose` branches); one of the common shapes is
    evaluated by a plan (bot/playbook/fastpath.py), and by Jinja when the plan gives up."""

    __slots__ = ("_compiled", "_plan", "refs", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled: Any = None  # compiled when a plan first gives up (most never do)
        self.refs, self._plan = _expression(source)

    def evaluate(self, variables: Mapping[str, Any]) -> bool:
        if self._plan is not None and type(variables) is dict:
            try:
                return self._plan(variables)
            except Exception:  # the plan gave up: Jinja answers, with its result or its error
                pass
        try:
            if self._compiled is None:
                self._compiled = ENV.compile_expression(self.source, undefined_to_none=False)
            return bool(self._compiled(variables))
        except TemplateError as exc:
            raise RenderError(f"expression {self.source!r}: {exc}") from exc
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise RenderError(f"expression {self.source!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"Expr({self.source!r})"
