"""Texts and expressions: Jinja2 in a sandbox, checked against what a run provides.

Only playbook authors write template source; member text reaches templates as
data (a variable's value), never as source, so `{{ 7*7 }}` typed in a group is
just eight characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from bot.playbook.errors import did_you_mean

ENV = SandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)

# Attributes each context variable offers; None means "not checked".
Scope = Mapping[str, frozenset[str] | None]

_MARKERS = ("{{", "{%", "{#")


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


def _refs(ast: nodes.Template) -> frozenset[tuple[str, str | None]]:
    names = meta.find_undeclared_variables(ast)
    out: set[tuple[str, str | None]] = {(n, None) for n in names}
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        base = node.node
        if not (isinstance(base, nodes.Name) and base.name in names):
            continue
        if isinstance(node, nodes.Getattr):
            out.add((base.name, node.attr))
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            out.add((base.name, node.arg.value))
    return frozenset(out)


def check_refs(refs: frozenset[tuple[str, str | None]], scope: Scope, known: Scope, origin: str) -> list[str]:
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


def _check_names(ast: nodes.Template) -> None:
    """The errors Jinja would only raise when compiling: a filter or test that does not exist."""
    for node in ast.find_all((nodes.Filter, nodes.Test)):
        kind, known = ("filter", ENV.filters) if isinstance(node, nodes.Filter) else ("test", ENV.tests)
        if node.name not in known:
            raise TemplateSyntaxError(f"no {kind} named '{node.name}'{did_you_mean(node.name, known)}", node.lineno)


class Text:
    """A text from a playbook. Plain strings skip Jinja entirely (the common case).

    A template is parsed and checked when loaded and compiled when first rendered: compiling is most of the
    cost of loading a thousand playbooks, and many texts never run in a given process."""

    __slots__ = ("_template", "refs", "source", "templated")

    def __init__(self, source: str) -> None:
        self.source = source
        self._template: Any = None
        self.refs: frozenset[tuple[str, str | None]] = frozenset()
        self.templated = any(m in source for m in _MARKERS)
        if self.templated:
            try:
                ast = ENV.parse(source)
                _check_names(ast)
            except TemplateSyntaxError as exc:
                raise _plain_syntax_error(exc) from None
            self.refs = _refs(ast)

    def render(self, variables: Mapping[str, Any]) -> str:
        if not self.templated:
            return self.source.strip()
        try:
            if self._template is None:
                self._template = ENV.from_string(self.source)
            return self._template.render(variables).strip()
        except TemplateError as exc:
            raise RenderError(f"template {self.source!r}: {exc}") from exc
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise RenderError(f"template {self.source!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"Text({self.source!r})"


class Expr:
    """A sandboxed boolean expression (`expr:` conditions, `choose` branches)."""

    __slots__ = ("_compiled", "refs", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            # Compiled first: its errors speak of the source as written, not of the wrapper parsed below.
            self._compiled = ENV.compile_expression(source, undefined_to_none=False)
            ast = ENV.parse("{{ (" + source + ") }}")
        except TemplateSyntaxError as exc:
            raise _plain_syntax_error(exc, expression=True) from None
        self.refs = _refs(ast)

    def evaluate(self, variables: Mapping[str, Any]) -> bool:
        try:
            return bool(self._compiled(**variables))
        except TemplateError as exc:
            raise RenderError(f"expression {self.source!r}: {exc}") from exc
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise RenderError(f"expression {self.source!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"Expr({self.source!r})"
