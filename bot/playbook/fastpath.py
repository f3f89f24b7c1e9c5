"""Texts and conditions of the common shapes, read straight from a run's variables instead of through Jinja.

Jinja renders each text through a fresh context and the sandbox's attribute lookup (an AttributeError per
`member.name` on a dict): several microseconds for `{{ member.name }} 签到成功`, on every check-in. Most texts
and conditions are only names, fields of dict variables, constants, comparisons, `and` / `or` / `not` and
`is defined`; for those a plan made once from the very syntax tree Jinja compiles reads the values directly.

A plan only looks keys up in plain dicts and compares or prints plain values (str, int, float, bool, None):
it runs no code a value brings along, and member text stays data. Whenever anything is not so (a name that is
missing, a field of an object, a value a guard refuses, an error), the plan gives up by raising, and the
caller renders through Jinja, which gives the result or the error it always gave. A plan has no side effect,
so giving up half way changes nothing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, nodes

Getter = Callable[[dict[str, Any]], Any]
Plan = Callable[[dict[str, Any]], str]

# Values a plan prints or compares; their str(), bool() and comparisons run no code but Python's own.
_SCALARS = frozenset({str, int, float, bool, type(None)})
# Values a plan may also test for truth (`if: [{expr: room}]`): their bool() is their length.
_TRUTHY = _SCALARS | {dict, list, tuple}
# A dict's own attributes: the sandbox gives `member.items` the method, not the key, so such names stay Jinja's.
_DICT_ATTRIBUTES = frozenset(dir(dict))
# Names the generated code does not read from the variables (`self` is the template itself).
_SPECIAL_NAMES = frozenset({"self"})
_COMPARE: Mapping[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lteq": operator.le,
    "gt": operator.gt,
    "gteq": operator.ge,
}
_MEMBERSHIP = {"in": True, "notin": False}


class GiveUp(Exception):
    """The plan cannot answer this call: render it through Jinja."""


class _NotPlain(Exception):
    """The syntax tree has a shape the plans do not cover (found once, when planning)."""


def _path(node: nodes.Node) -> Getter:
    """`member`, `member.name`, `member['name']`: a name, then keys of plain dicts."""
    keys: list[str] = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            if node.attr in _DICT_ATTRIBUTES:
                raise _NotPlain
            keys.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and type(node.arg.value) is str:
            keys.append(node.arg.value)  # a key first, then an attribute: a key that is there is the value
        else:
            raise _NotPlain
        node = node.node
    if not isinstance(node, nodes.Name) or node.ctx != "load" or node.name in _SPECIAL_NAMES:
        raise _NotPlain
    name, path = node.name, tuple(reversed(keys))
    # A global (`range`) or an undefined name, a key that is not there: KeyError, Jinja's to answer.
    if not path:
        return lambda variables: variables[name]
    if len(path) == 1:
        key = path[0]

        def field(variables: dict[str, Any]) -> Any:
            value = variables[name]
            if type(value) is not dict:
                raise GiveUp
            return value[key]

        return field

    def get(variables: dict[str, Any]) -> Any:
        value = variables[name]
        for key in path:
            if type(value) is not dict:
                raise GiveUp
            value = value[key]
        return value

    return get


def _scalar(get: Getter) -> Getter:
    def value(variables: dict[str, Any]) -> Any:
        found = get(variables)
        if type(found) not in _SCALARS:
            raise GiveUp
        return found

    return value


def _truth(get: Getter) -> Callable[[dict[str, Any]], bool]:
    def truth(variables: dict[str, Any]) -> bool:
        found = get(variables)
        if type(found) not in _TRUTHY:
            raise GiveUp
        return bool(found)

    return truth


def _or(left: Getter, right: Getter) -> Getter:
    def either(variables: dict[str, Any]) -> Any:
        first = left(variables)
        if type(first) not in _TRUTHY:
            raise GiveUp
        return first if first else right(variables)

    return either


def _and(left: Getter, right: Getter) -> Getter:
    def both(variables: dict[str, Any]) -> Any:
        first = left(variables)
        if type(first) not in _TRUTHY:
            raise GiveUp
        return right(variables) if first else first

    return both


def _compare(node: nodes.Compare, env: Environment) -> Getter:
    """`a == b`, `a < b <= c`, `'x' in s`: Python's chained comparison, as Jinja writes it."""
    first = _scalar(_expression(node.expr, env))
    steps: list[tuple[Callable[[Any, Any], Any], Getter]] = []
    for operand in node.ops:
        right = _scalar(_expression(operand.expr, env))
        if operand.op in _COMPARE:
            steps.append((_COMPARE[operand.op], right))
        elif operand.op in _MEMBERSHIP:
            wanted = _MEMBERSHIP[operand.op]
            steps.append((lambda a, b, wanted=wanted: _member(a, b) is wanted, right))
        else:
            raise _NotPlain

    def compare(variables: dict[str, Any]) -> Any:
        left = first(variables)
        for test, get in steps:
            right = get(variables)
            if not test(left, right):
                return False
            left = right
        return True

    return compare


def _member(needle: Any, haystack: Any) -> bool:
    """`in` on text only: membership in anything else may compare values of other kinds."""
    if type(needle) is not str or type(haystack) is not str:
        raise GiveUp
    return needle in haystack


def _test(node: nodes.Test, env: Environment) -> Getter:
    """`room is defined`: the environment's own test, on a value that is there (one that is not is Jinja's)."""
    if node.name not in ("defined", "undefined") or node.args or node.kwargs or node.dyn_args or node.dyn_kwargs:
        raise _NotPlain
    test, get = env.tests[node.name], _expression(node.node, env)

    def holds(variables: dict[str, Any]) -> Any:
        value = get(variables)
        if type(value) not in _TRUTHY:
            raise GiveUp  # the test asks the value for its class: an object may answer with code of its own
        return test(value)

    return holds


def _const(node: nodes.Const) -> Getter:
    if type(node.value) not in _SCALARS:
        raise _NotPlain
    value = node.value
    return lambda _variables: value


def _expression(node: nodes.Node, env: Environment) -> Getter:
    if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
        return _path(node)
    if isinstance(node, nodes.Const):
        return _const(node)
    if isinstance(node, nodes.Not):
        truth = _truth(_expression(node.node, env))
        return lambda variables: not truth(variables)
    if isinstance(node, nodes.And):
        return _and(_expression(node.left, env), _expression(node.right, env))
    if isinstance(node, nodes.Or):
        return _or(_expression(node.left, env), _expression(node.right, env))
    if isinstance(node, nodes.Compare):
        return _compare(node, env)
    if isinstance(node, nodes.Test):
        return _test(node, env)
    raise _NotPlain


def _keys_are_names(variables: dict[str, Any]) -> None:
    """Jinja passes the variables as keyword arguments (TypeError for a key that is not a string)."""
    "".join(variables)


def plan_expression(node: nodes.Expr, env: Environment) -> Callable[[dict[str, Any]], bool] | None:
    """The condition's truth, or None when its shape needs Jinja."""
    try:
        truth = _truth(_expression(node, env))
    except _NotPlain:
        return None

    def holds(variables: dict[str, Any]) -> bool:
        _keys_are_names(variables)
        return truth(variables)

    return holds


def _shown(node: nodes.Node, guard: str, env: Environment) -> Getter:
    """One `{{ ... }}`: its text; a guarded field (see templates.FILLED) must show something."""
    if isinstance(node, nodes.Filter) and node.name == guard:
        if node.node is None or len(node.args) != 1 or node.kwargs or node.dyn_args or node.dyn_kwargs:
            raise _NotPlain
        get = _expression(node.node, env)

        def filled(variables: dict[str, Any]) -> str:
            value = get(variables)
            if value is None or type(value) not in _SCALARS:
                raise GiveUp
            text = str(value)
            if not text.strip():
                raise GiveUp  # Jinja's guard raises EmptyValue, after whatever came before it
            return text

        return filled
    get = _expression(node, env)

    def shown(variables: dict[str, Any]) -> str:
        value = get(variables)
        if type(value) not in _SCALARS:
            raise GiveUp
        return str(value)

    return shown


def plan_text(ast: nodes.Template, guard: str, env: Environment) -> Plan | None:
    """The rendered text (before strip), or None when the template has statements, filters, calls, ..."""
    layout: list[str] = []  # the text around the values, as a %-format
    values: list[Getter] = []
    try:
        for output in ast.body:
            if not isinstance(output, nodes.Output):
                raise _NotPlain
            for child in output.nodes:
                if isinstance(child, nodes.TemplateData):
                    layout.append(child.data.replace("%", "%%"))
                else:
                    values.append(_shown(child, guard, env))
                    layout.append("%s")
    except _NotPlain:
        return None
    form, shown = "".join(layout), tuple(values)

    def render(variables: dict[str, Any]) -> str:
        _keys_are_names(variables)
        return form % tuple([value(variables) for value in shown])

    return render
