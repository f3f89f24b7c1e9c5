"""What a text or an expression reads (its names and the fields of them), from the syntax tree Jinja parsed.

Jinja's own answer, `meta.find_undeclared_variables`, runs the code generator over the tree: most of the cost of
loading a thousand playbooks. A tree with nothing in it that declares a name (no `for`, `set`, macro, `with`,
block, import, ...) reads from the run's variables every name it loads, so for those one walk over the tree gives
the same answer; any other tree is Jinja's to answer. The refs decide which member fields are read before a
render: a ref missed here would render empty, so tests/test_template_refs.py holds both answers equal.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from jinja2 import meta, nodes

Ref = tuple[str, str | None]

# Nodes that declare no name and open no scope: an expression, an output, an `if`.
_PLAIN = frozenset(
    {
        nodes.Template,
        nodes.Output,
        nodes.If,
        nodes.TemplateData,
        nodes.Name,
        nodes.Const,
        nodes.Tuple,
        nodes.List,
        nodes.Dict,
        nodes.Pair,
        nodes.Keyword,
        nodes.CondExpr,
        nodes.Filter,
        nodes.Test,
        nodes.Call,
        nodes.Getitem,
        nodes.Getattr,
        nodes.Slice,
        nodes.Concat,
        nodes.Compare,
        nodes.Operand,
        nodes.Mul,
        nodes.Div,
        nodes.FloorDiv,
        nodes.Add,
        nodes.Sub,
        nodes.Mod,
        nodes.Pow,
        nodes.And,
        nodes.Or,
        nodes.Not,
        nodes.Neg,
        nodes.Pos,
    }
)
# Names the compiler binds itself at the top of a template (`self`: the template), not read from the run.
_BOUND = frozenset({"self"})


@dataclass(slots=True)
class Survey:
    """One walk over a tree, in Jinja's own order (`find_all`: depth first, each node before its children)."""

    names: set[str]  # every name it loads
    fields: list[tuple[str, str]]  # `member.name`, `member['name']`: a name and the field it reads
    named: list[nodes.Filter | nodes.Test]  # the filters and tests it calls, checked against the environment
    plain: bool  # nothing in it declares a name: every name it loads comes from the run

    def refs(self, tree: nodes.Node, env_globals: Collection[str]) -> frozenset[Ref]:
        """The names it reads from the run (not the environment's globals, like `range`), and their fields."""
        if self.plain:
            names = {name for name in self.names if name not in env_globals}
        else:
            names = meta.find_undeclared_variables(tree)  # type: ignore[arg-type]
        found: set[Ref] = {(name, None) for name in names}
        found.update(field for field in self.fields if field[0] in names)
        return frozenset(found)


def survey(tree: nodes.Node) -> Survey:
    names: set[str] = set()
    fields: list[tuple[str, str]] = []
    named: list[nodes.Filter | nodes.Test] = []
    plain = True
    stack: list[nodes.Node] = [tree]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind not in _PLAIN:
            plain = False
        elif kind is nodes.Name:
            names.add(node.name)  # type: ignore[attr-defined]
            plain = plain and node.ctx == "load" and node.name not in _BOUND  # type: ignore[attr-defined]
        elif kind is nodes.Getattr or kind is nodes.Getitem:
            _field(node, fields)  # type: ignore[arg-type]
        elif kind is nodes.Filter or kind is nodes.Test:
            named.append(node)  # type: ignore[arg-type]
        children: list[nodes.Node] = []
        for name in node.fields:
            item = getattr(node, name, None)
            if isinstance(item, nodes.Node):
                children.append(item)
            elif isinstance(item, list):
                children.extend(n for n in item if isinstance(n, nodes.Node))
        stack.extend(reversed(children))
    return Survey(names, fields, named, plain)


def _field(node: nodes.Getattr | nodes.Getitem, fields: list[tuple[str, str]]) -> None:
    base = node.node
    if not isinstance(base, nodes.Name):
        return
    if isinstance(node, nodes.Getattr):
        fields.append((base.name, node.attr))
    elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        fields.append((base.name, node.arg.value))
