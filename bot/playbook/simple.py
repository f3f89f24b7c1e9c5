"""Texts whose only Jinja is `{{ name }}` or `{{ name.field }}` (most texts): their syntax tree built directly.

Jinja's lexer and parser cost about a tenth of a millisecond per text, the largest part of loading a thousand
playbooks; for these shapes the tree is built node for node as Jinja builds it (the same nodes, values and line
numbers: tests/test_template_refs.py compares the two over every text there is). Any other text, or anything
unusual in one (a block, a comment, a keyword, a filter, spaces around a dot), is Jinja's to parse.
"""

from __future__ import annotations

import re

from jinja2 import Environment, nodes
from jinja2.lexer import newline_re

_PIECES = re.compile(r"(\{\{.*?\}\})", re.DOTALL)  # data, `{{ ... }}`, data, ...: each `{{` ends at its first `}}`
_VARIABLE = re.compile(r"\{\{(\s*)([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
# Words Jinja's parser reads as constants or operators, not as names.
_KEYWORDS = frozenset({"true", "false", "True", "False", "none", "None", "not", "and", "or", "in", "is", "if", "else"})


def parse(source: str, env: Environment) -> nodes.Template | None:
    """The tree `env.parse(source)` gives, or None when the text is not of the simple shapes."""
    if "{%" in source or "{#" in source or env.keep_trailing_newline or env.newline_sequence != "\n":
        return None
    lines = newline_re.split(source)[::2]  # the lexer's newlines: each written as "\n", the last one dropped
    if lines[-1] == "":
        del lines[-1]
    body: list[nodes.Node] = []
    lineno = 1
    for i, piece in enumerate(_PIECES.split("\n".join(lines))):
        if i % 2 == 0:
            if "{{" in piece:  # a `{{` never closed: Jinja's error to give
                return None
            if piece:
                body.append(nodes.TemplateData(piece, lineno=lineno))
        else:
            found = _VARIABLE.fullmatch(piece)
            if found is None:
                return None
            name, *fields = found[2].split(".")
            if name in _KEYWORDS or _KEYWORDS.intersection(fields):
                return None
            at = lineno + found[1].count("\n")
            node: nodes.Expr = nodes.Name(name, "load", lineno=at)
            for field in fields:
                node = nodes.Getattr(node, field, "load", lineno=at)
            body.append(node)
        lineno += piece.count("\n")
    if not body:
        return None
    tree = nodes.Template([nodes.Output(body, lineno=body[0].lineno)], lineno=1)
    return tree.set_environment(env)  # type: ignore[return-value]
