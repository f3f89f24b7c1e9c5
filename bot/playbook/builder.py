"""A playbook file turned into checked objects the engine can run (bot/playbook/model.py).

Structure (top-level keys, the when/if/do lists, `choose`) is walked here, the
resource blocks in resources.py; the options of each trigger, condition and
action are validated by the pydantic schema its handler registered. Every
problem is collected, none raised.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

from bot.playbook.errors import Location, Problems, closest, did_you_mean
from bot.playbook.loader import Doc, Path
from bot.playbook.model import _ID, TOP_KEYS, Branch, Call, Choose, Playbook, Step, moderates, walk_steps
from bot.playbook.resources import read_block
from bot.playbook.templates import Expr, Text, check_refs
from bot.playbook.validate import describe, validate_model
from bot.registry import MEMBER, Registry

# Variables every run has, and every variable any run can have (for hints).
BASE_SCOPE: dict[str, frozenset[str] | None] = {"now": None, "bot": frozenset({"name"}), "config": None}

# Names earlier releases had, with what replaced them: an upgraded shop's old playbooks say what to do.
RETIRED = {
    "redeem": " (/核销 is a built-in staff command now: delete the playbook that used 'redeem', like redeem.yaml)"
}


class _Builder:
    def __init__(self, doc: Doc, registry: Registry, problems: Problems, room_tags: set[str] | None):
        self.doc = doc
        self.registry = registry
        self.problems = problems
        self.room_tags = room_tags
        self.scope: dict[str, frozenset[str] | None] = dict(BASE_SCOPE)
        self.known: dict[str, frozenset[str] | None] = dict(BASE_SCOPE)
        self.origin = "this playbook has no trigger that gives it"  # until `when` says what a run has
        self.members = registry.member_scope()  # what `member.X` may read without a `fields:` declaration
        self.field_refs: list[tuple[str, str, Location]] = []

    def error(self, path: Path, message: str, *, key: bool = False) -> None:
        self.problems.add(self.doc.key_at(path) if key else self.doc.at(path), message)

    # -- one-key mappings: `- reply: text`, `- role: [staff]`, `- message: {text: x}`

    def call(self, path: Path, item: Any, kind: str) -> Call | None:
        table = {"action": self.registry.actions, "condition": self.registry.conditions}.get(
            kind, self.registry.triggers
        )
        example = {"action": "- reply: 你好", "condition": "- role: [staff]", "trigger": "- join: {}"}
        if not isinstance(item, dict) or not item:
            self.error(path, f"each {kind} is a one-key mapping like '{example[kind]}'; got {describe(item)}")
            return None
        names = [k for k in item if k in table]
        if not names:
            key = next(iter(item))
            hint = RETIRED.get(key) or did_you_mean(key, table)
            self.error((*path, key), f"unknown {kind} '{key}'{hint}", key=True)
            return None
        if len(names) > 1:
            self.error(
                (*path, names[1]),
                f"one {kind} per list item: '{names[0]}' and '{names[1]}' share one; start a new '- ' item for each",
                key=True,
            )
            return None
        name = names[0]
        spec = table[name]
        value = item[name]
        data: dict[str, Any] = {}
        paths: dict[str, Path] = {}
        if isinstance(value, dict):
            for k, v in value.items():
                data[k], paths[k] = v, (*path, name, k)
        elif value is not None:
            if spec.primary is None:
                self.error((*path, name), f"'{name}' takes options as a mapping, like '{name}: {{}}'")
                return None
            data[spec.primary], paths[spec.primary] = value, (*path, name)
        for k, v in item.items():
            if k == name:
                continue
            if k in data:
                self.error((*path, k), f"'{k}' is given twice in '{name}'", key=True)
                return None
            data[k], paths[k] = v, (*path, k)
        body: tuple[Step, ...] = ()
        if spec.body is not None:
            if spec.body not in data:
                hint = f"the actions to run, like '{spec.body}: [...]'"
                self.error((*path, name), f"'{name}' needs '{spec.body}': {hint}")
                return None
            body_path = paths.pop(spec.body)
            body = self.steps(body_path, data.pop(spec.body), nested=True)
        params = validate_model(
            self.doc, spec.schema, data, self.problems, base=(*path, name), label=name, field_paths=paths
        )
        if params is None:
            return None
        if kind != "trigger":
            self.check_texts(params, paths, (*path, name))
            if spec.member_directed:
                self.check_target(params, paths.get("to", (*path, name)))
        return Call(spec, params, self.doc.key_at((*path, name)), body)

    def check_target(self, params: Any, path: Path) -> None:
        target = params.to
        if target not in self.scope:
            self.error(
                path,
                f"'to' names '{target}', which this playbook does not have{did_you_mean(target, self.scope)}",
            )
        elif self.scope[target] is None or "id" not in (self.scope[target] or ()):
            self.error(path, f"'to' must name a member (member or inviter); got '{target}'")

    def check_texts(self, params: BaseModel, paths: Mapping[str, Path], base: Path) -> None:
        for fname, info in type(params).model_fields.items():
            key = info.alias or fname
            self._check_value(getattr(params, fname), paths.get(key, (*base, key)))

    def _check_value(self, value: Any, path: Path) -> None:
        if isinstance(value, (Text, Expr)):
            declared = self.declared_refs(value.refs)
            for message in check_refs(value.refs - declared, self.scope, self.known, self.origin):
                self.error(path, message)
            self.field_refs += [(name, attr, self.doc.at(path)) for name, attr in sorted(declared)]
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                self._check_value(item, (*path, i))
        elif isinstance(value, BaseModel):
            self.check_texts(value, {}, path)

    def declared_refs(self, refs: frozenset[tuple[str, str | None]]) -> frozenset[tuple[str, str]]:
        """`member.X` that no ability provides: a field a playbook may declare under `fields:` (any file), so it
        is checked once the whole set is known."""
        return frozenset(
            (name, attr)
            for name, attr in refs
            if attr is not None and self.scope.get(name) is self.members and attr not in self.members
        )

    def listed(self, path: Path, items: Any, kind: str) -> list[Any]:
        """A list as it is, one item on its own as a list of one; anything else is a problem (and no items)."""
        if items is None:
            return []
        if isinstance(items, dict):
            return [items]
        if not isinstance(items, list):
            self.error(path, f"'{path[-1]}' must be a list of {kind}s; got {describe(items)}")
            return []
        return items

    def calls(self, path: Path, items: Any, kind: str) -> tuple[Call, ...]:
        out = [self.call((*path, i), item, kind) for i, item in enumerate(self.listed(path, items, kind))]
        return tuple(c for c in out if c is not None)

    # -- do: actions, with `choose` as the one structural action

    def steps(self, path: Path, items: Any, *, nested: bool = False) -> tuple[Step, ...]:
        """Actions of a `do` list; `nested` is true inside `choose`, where `wait` cannot pause the run."""
        out: list[Step] = []
        for i, item in enumerate(self.listed(path, items, "action")):
            if isinstance(item, dict) and "choose" in item:
                step: Step | None = self.choose((*path, i), item)
            else:
                step = self.call((*path, i), item, "action")
            if nested and isinstance(step, Call) and step.name == "wait":
                # The engine pauses a run only between top-level steps (each part is its own transaction).
                self.error(
                    (*path, i, "wait"),
                    "'wait' works only directly in the playbook's 'do' list, "
                    "not inside 'choose' or 'for_each'; "
                    "move it out, or use a 'schedule' for a later follow-up",
                    key=True,
                )
                step = None
            if step is not None:
                out.append(step)
        return tuple(out)

    def choose(self, path: Path, item: dict[str, Any]) -> Choose | None:
        if len(item) > 1:
            extra = next(k for k in item if k != "choose")
            self.error((*path, extra), f"'choose' stands alone in its list item; found '{extra}'", key=True)
            return None
        branches_raw = item["choose"]
        base = (*path, "choose")
        if not isinstance(branches_raw, list) or not branches_raw:
            self.error(
                base,
                "'choose' takes a list of branches: '- if: [...]' with 'do: [...]', then '- else: [...]'",
            )
            return None
        branches: list[Branch] = []
        otherwise: tuple[Step, ...] = ()
        for i, branch in enumerate(branches_raw):
            bpath = (*base, i)
            if not isinstance(branch, dict):
                self.error(
                    bpath,
                    f"a 'choose' branch is a mapping with 'if' and 'do', or 'else'; got {describe(branch)}",
                )
                continue
            if "else" in branch:
                if i != len(branches_raw) - 1:
                    self.error((*bpath, "else"), "'else' must be the last branch of 'choose'", key=True)
                for k in branch:
                    if k != "else":
                        self.error((*bpath, k), f"unknown key '{k}' beside 'else'", key=True)
                otherwise = self.steps((*bpath, "else"), branch["else"], nested=True)
                continue
            unknown = [k for k in branch if k not in ("if", "do")]
            for k in unknown:
                hint = did_you_mean(k, ["if", "do", "else"]) or "; a branch has 'if' and 'do', or is '- else: [...]'"
                self.error((*bpath, k), f"unknown key '{k}' in a 'choose' branch{hint}", key=True)
            if "if" not in branch or "do" not in branch:
                if unknown:  # a misspelt 'if' or 'do' (or 'then'): its own message says what to write
                    continue
                if "do" not in branch:
                    self.error(bpath, "this 'choose' branch has 'if' but no 'do': add 'do: [...]' with its actions")
                else:
                    self.error(
                        bpath,
                        "this 'choose' branch has 'do' but no 'if': add 'if: [...]', or make it the last branch "
                        "as '- else: [...]'",
                    )
                continue
            branches.append(
                Branch(
                    self.calls((*bpath, "if"), branch["if"], "condition"),
                    self.steps((*bpath, "do"), branch["do"], nested=True),
                )
            )
        return Choose(tuple(branches), otherwise, self.doc.key_at(base))

    # -- variables a run of this playbook will have

    def compute_scope(self, triggers: tuple[Call, ...], raw_do: Any) -> None:
        members = self.members

        def resolve(sets: Mapping[str, frozenset[str] | None]) -> dict[str, frozenset[str] | None]:
            return {k: (members if v is MEMBER else v) for k, v in sets.items()}

        for spec in (*self.registry.triggers.values(), *self.registry.actions.values()):
            self.known.update(resolve(spec.sets))
        if triggers:
            common = set(triggers[0].spec.sets)
            for t in triggers[1:]:
                common &= set(t.spec.sets)
            first = resolve(triggers[0].spec.sets)
            self.scope.update({name: first[name] for name in common})
            names = "/".join(sorted({t.name for t in triggers}))
            offered = ", ".join(sorted(common | set(BASE_SCOPE)))
            self.origin = f"'{names}' gives a run only {offered}"
        for name in _action_names(raw_do):
            # A misspelt action ('chekin') is reported once; the texts after it are checked as if it were right.
            spec = self.registry.actions.get(name) or self.registry.actions.get(
                closest(name, self.registry.actions) or ""
            )
            if spec is not None:
                self.scope.update(resolve(spec.sets))


def _action_names(raw: Any) -> Iterator[str]:
    if isinstance(raw, list):
        for item in raw:
            yield from _action_names(item)
    elif isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(key, str):
                yield key
            if key in ("choose", "do", "else") or isinstance(value, dict):  # also for_each: {do: [...]}
                yield from _action_names(value)


def build_playbook(
    doc: Doc, registry: Registry, problems: Problems, *, room_tags: set[str] | None = None
) -> Playbook | None:
    """Check one parsed file; returns None (and adds problems) if anything is wrong."""
    before = len(problems)
    data = doc.data
    b = _Builder(doc, registry, problems, room_tags)
    if data is None:
        problems.add(Location(doc.path, 1, 1), "file is empty: a playbook needs at least 'id', 'when' and 'do'")
        return None
    if not isinstance(data, dict):
        b.error((), f"a playbook is a mapping of keys (id, when, do, ...); got {describe(data)}")
        return None
    for key in data:
        if key in TOP_KEYS or key in registry.resources:
            continue
        if key == "on":
            b.error(
                (key,),
                "'on' is not a key here (YAML reads it as true in many tools); put triggers under 'when:'",
                key=True,
            )
        else:
            keys = (*TOP_KEYS, *sorted(registry.resources))
            hint = did_you_mean(key, keys) or f"; a playbook's keys are {', '.join(keys)}"
            b.error((key,), f"unknown key '{key}'{hint}", key=True)
    pid = data.get("id")
    if pid is None:
        b.error((), "missing 'id': give the playbook a short id like 'daily-checkin'")
    elif not isinstance(pid, str) or not _ID.match(pid):
        b.error(
            ("id",),
            f"'id' must be lower-case letters, digits and '-', starting with a letter or digit; got {describe(pid)}",
        )
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], (str, int, float)):
            b.error((key,), f"'{key}' must be text; got {describe(data[key])}")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        b.error(("enabled",), f"'enabled' must be true or false; got {describe(enabled)}")
    rooms = data.get("rooms", [])
    if isinstance(rooms, str):
        rooms = [rooms]
    if not isinstance(rooms, list) or not all(isinstance(r, (str, int)) for r in rooms):
        b.error(("rooms",), f"'rooms' must be a list of room topics, room ids or tag:NAME; got {describe(rooms)}")
        rooms = []
    rooms = [str(r) for r in rooms]
    for i, room in enumerate(rooms):
        tag = room.removeprefix("tag:") if room.startswith("tag:") else None
        if tag is not None and room_tags is not None and tag not in room_tags:
            hint = did_you_mean(tag, room_tags)
            if room_tags:
                known = ", ".join(sorted(room_tags))
                b.error(("rooms", i), f"unknown room tag '{tag}'{hint}; config.yaml tags: {known}")
            else:
                b.error(("rooms", i), f"unknown room tag '{tag}'{hint}; config.yaml tags no group")
    if "when" not in data and "on" not in data:  # 'on' already got its own hint
        b.error((), "missing 'when': say what starts this playbook, e.g. 'when: [{message: {text: 签到}}]'")
    if "do" not in data:
        b.error((), "missing 'do': list what the bot should do")
    triggers = b.calls(("when",), data.get("when"), "trigger")
    for trig in triggers:
        if trig.name == "command" and trig.params.name.casefold() in registry.commands:  # reserved: staff commands
            b.problems.add(
                trig.location,
                f"'/{trig.params.name}' is a built-in staff command (see /帮助); give this playbook's command "
                "another name, or delete the file if it is an old copy of a shipped playbook (redeem.yaml)",
            )
    moderation = [t for t in triggers if moderates(t)]
    for trig in triggers if moderation else ():
        if not moderates(trig):
            b.problems.add(
                trig.location,
                "a moderation playbook (has, words, flood) runs before the others and consumes the message; "
                "put this trigger in another playbook",
            )
    if "when" in data and not triggers and len(problems) == before:
        b.error(("when",), "'when' needs at least one trigger")
    b.compute_scope(triggers, data.get("do"))
    conditions = b.calls(("if",), data.get("if"), "condition")
    steps = b.steps(("do",), data.get("do"))
    declared = [
        d
        for block, spec in registry.resources.items()
        if block in data
        for d in read_block(doc, spec, data[block], problems)
    ]
    if len(problems) > before:
        return None
    has_wait = any(c.name == "wait" for c in walk_steps(steps))
    return Playbook(
        id=pid,
        path=doc.path,
        location=doc.key_at(("id",)),
        triggers=triggers,
        conditions=conditions,
        steps=steps,
        name=str(data.get("name", "")),
        description=str(data.get("description", "")),
        enabled=enabled,
        rooms=tuple(rooms),
        rooms_at=tuple(doc.at(("rooms", i)) for i in range(len(rooms))),
        has_wait=has_wait,
        declared=tuple(declared),
        field_refs=tuple(b.field_refs),
    )
