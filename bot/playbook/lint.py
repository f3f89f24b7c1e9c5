"""Warnings: playbooks that load and run, but probably not as their author meant.

A warning never keeps a playbook from loading. Three checks, each over the whole set once:

- `rooms:` naming a group that config.yaml does not list (when it lists groups): the playbook never runs there;
- one message starting two playbooks (the same exact text, keyword or command after the index's folding, or a
  text or keyword that holds another playbook's keyword): both run, in playbook order, so the member gets two
  answers; the warning says which runs first;
- a text showing coupon.code or coupon.expires in a run that goes on when `coupon` gave none (stock gone,
  per_member reached): the member would read "送你一张回归券 ，前有效".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import product
from typing import Any

from jinja2 import nodes
from pydantic import BaseModel

from bot.playbook.errors import Location, Problem, Problems, did_you_mean
from bot.playbook.index import TriggerIndex
from bot.playbook.model import Call, Choose, Playbook, Step
from bot.playbook.templates import ENV, Expr, RenderError, Text


@dataclass(frozen=True)
class Groups:
    """The groups config.yaml lists: each name (id or topic) and each tag, to the entries they stand for."""

    names: Mapping[str, int]
    tags: Mapping[str, frozenset[int]]


def lint(playbooks: list[Playbook], index: TriggerIndex, groups: Groups | None) -> list[Problem]:
    warnings = Problems(warnings=True)
    for pb in playbooks:
        if groups is not None:
            _unknown_rooms(pb, groups, warnings)
        _coupon_texts(pb.steps, None, warnings)
    _clashes(index, groups, warnings)
    return warnings.sorted()


def _unknown_rooms(pb: Playbook, groups: Groups, warnings: Problems) -> None:
    for room, where in zip(pb.rooms, pb.rooms_at, strict=True):
        if not room.startswith("tag:") and room not in groups.names:
            warnings.add(
                where,
                f"'rooms' names '{room}', which is not a group in config.yaml{did_you_mean(room, groups.names)}: "
                "this playbook never runs there",
            )


# -- one message, two playbooks

Entry = tuple[Playbook, Call]


def _clashes(index: TriggerIndex, groups: Groups | None, warnings: Problems) -> None:
    said: set[tuple[str, str, Location]] = set()

    def pairs(these: list[Entry], those: list[Entry], how: str, word: str) -> None:
        for (a, ta), (b, tb) in product(these, those):
            if a.id == b.id or not _can_meet(a, ta, b, tb, groups):
                continue
            (first, first_trig), (second, trig) = sorted(((a, ta), (b, tb)), key=lambda e: e[0].order)
            if (first.id, second.id, trig.location) in said:
                continue
            said.add((first.id, second.id, trig.location))
            warnings.add(trig.location, _clash(how, word, first, first_trig.location))

    for text, entries in index.exact.items():
        pairs(entries, entries, "sends", text)
        for word in sorted(index.keywords_in(text)):
            pairs(entries, index.keyword_hits[word], "sends", text)
    for word, entries in index.keyword_hits.items():
        pairs(entries, entries, "contains", word)
        for inner in sorted(index.keywords_in(word) - {word}):
            pairs(entries, index.keyword_hits[inner], "contains", word)
    for name, entries in index.commands.items():
        pairs(entries, entries, "command", name)


def _clash(how: str, word: str, first: Playbook, where: Location) -> str:
    outcome = (
        f"only '{first.id}' runs (its 'stop: {{all: true}}' ends the others)"
        if _stops_all(first)
        else f"both run, '{first.id}' first"
    )
    if how == "sends":
        return f"a member who sends '{word}' starts this playbook and '{first.id}' ({where}) too: {outcome}"
    if how == "contains":
        return f"a message containing '{word}' starts this playbook and '{first.id}' ({where}) too: {outcome}"
    return f"'/{word}' starts this playbook and '{first.id}' ({where}) too: {outcome}"


def _can_meet(a: Playbook, ta: Call, b: Playbook, tb: Call, groups: Groups | None) -> bool:
    """Whether one message can start both: in a private chat if both take one, in a group both apply to."""
    wa, wb = ta.params.where, tb.params.where
    private = wa in ("private", "any") and wb in ("private", "any")
    group = wa in ("group", "any") and wb in ("group", "any")
    if private:
        return True
    if not group:
        return False
    pa, pb = _places(a, groups), _places(b, groups)
    return pa is None or pb is None or bool(pa & pb)


def _places(pb: Playbook, groups: Groups | None) -> set[Any] | None:
    """The groups a playbook applies to, as config.yaml entries where known; None: every group."""
    if not pb.rooms:
        return None
    out: set[Any] = set()
    for selector in pb.rooms:
        if selector.startswith("tag:"):
            if groups is None:
                return None  # which groups carry the tag is not known here
            out |= groups.tags.get(selector[4:], frozenset())
        else:
            out.add(groups.names.get(selector, selector) if groups is not None else selector)
    return out


def _stops_all(pb: Playbook) -> bool:
    return any(isinstance(s, Call) and s.name == "stop" and s.params.all for s in pb.steps)


# -- a coupon code or date that may be empty

_MAY_BE_EMPTY = ("code", "expires")  # set only when a coupon was issued; the title is always there
_TESTS = frozenset({("coupon", "none"), ("coupon", "code")})
_WHEN_NONE = "(stock gone, per_member reached, batch ended); put it in a 'choose' branch with " + (
    "'if: [{expr: \"not coupon.none\"}]'"
)


def _coupon_texts(steps: tuple[Step, ...], pending: Location | None, warnings: Problems) -> Location | None:
    """Warn on texts showing a possibly-empty coupon field; `pending` is the untested `coupon` before them.

    Returns what is pending after these steps."""
    for step in steps:
        if isinstance(step, Choose):
            pending = _choose(step, pending, warnings)
            continue
        if pending is not None:
            shown = sorted({field for text in _texts(step.params) for field in _unguarded(text)})
            if len(shown) == 1:
                warnings.add(
                    step.location,
                    f"this text shows coupon.{shown[0]}, which is empty when the 'coupon' on line {pending.line} "
                    f"gives none {_WHEN_NONE}",
                )
            elif shown:
                warnings.add(
                    step.location,
                    f"this text shows coupon.code and coupon.expires, which are empty when the 'coupon' on line "
                    f"{pending.line} gives none {_WHEN_NONE}",
                )
        if step.body:
            _coupon_texts(step.body, pending, warnings)
        if step.name == "coupon":
            pending = step.location
    return pending


def _choose(step: Choose, pending: Location | None, warnings: Problems) -> Location | None:
    """Branches a run without a coupon cannot take know; so do those after a branch it surely takes."""
    after = pending
    for branch in step.branches:
        taken = _taken_without_coupon(branch.conditions) if pending is not None else None
        inside = _coupon_texts(branch.steps, pending if taken is not False else None, warnings)
        if inside is not None and inside is not pending:
            after = inside  # a `coupon` inside the branch
        if taken is True:  # a run without a coupon goes here and never reaches the later branches
            if any(isinstance(s, Call) and s.name == "stop" for s in branch.steps):
                after = None if after is pending else after
            return after
    inside = _coupon_texts(step.otherwise, pending, warnings)
    return inside if inside is not None and inside is not pending else after


_NO_COUPON = {"coupon": {"code": "", "title": "", "expires": "", "none": "已领过"}}


def _taken_without_coupon(conditions: tuple[Call, ...]) -> bool | None:
    """Whether a run whose `coupon` gave none takes a branch: True, False, or None when that cannot be told.

    `expr` conditions over coupon alone are evaluated; one that also reads other variables counts as a test
    of the coupon (the branch is trusted to be the right one) when it names coupon.none or coupon.code."""
    verdicts = []
    for condition in conditions:
        if condition.name != "expr":
            verdicts.append(None)
            continue
        expr: Expr = condition.params.expr
        try:
            verdicts.append(expr.evaluate(_NO_COUPON))
        except RenderError:
            verdicts.append(False if expr.refs & _TESTS else None)
    if False in verdicts:
        return False
    return True if verdicts and all(verdicts) else None


def _texts(value: Any) -> Iterator[Text]:
    if isinstance(value, Text):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, BaseModel) and not isinstance(value, Expr):
        for name in type(value).model_fields:
            yield from _texts(getattr(value, name))


def _unguarded(text: Text) -> set[str]:
    """The coupon fields a text shows outside `{% if coupon.code %}`, `x if coupon.code else y` or `or`."""
    if not any(ref in text.refs for ref in (("coupon", f) for f in _MAY_BE_EMPTY)):
        return set()
    found: set[str] = set()
    _visit(ENV.parse(text.source), False, found)
    return found


def _visit(node: nodes.Node, guarded: bool, found: set[str]) -> None:
    if (isinstance(node, (nodes.If, nodes.CondExpr)) and _mentions_test(node.test)) or isinstance(node, nodes.Or):
        guarded = True
    elif (
        isinstance(node, nodes.Getattr)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "coupon"
        and node.attr in _MAY_BE_EMPTY
        and not guarded
    ):
        found.add(node.attr)
    for child in node.iter_child_nodes():
        _visit(child, guarded, found)


def _mentions_test(test: nodes.Node) -> bool:
    found = [test, *test.find_all(nodes.Getattr)] if isinstance(test, nodes.Getattr) else test.find_all(nodes.Getattr)
    return any(isinstance(n.node, nodes.Name) and (n.node.name, n.attr) in _TESTS for n in found)
