"""`qunguan test`: conversation scripts run against the real engine.

Each scenario gets a fresh in-memory database and a virtual clock, so a script
that says `advance: 1d` fires tomorrow's schedules in order without sleeping.
Messages are seen the moment they are decided, unless the scenario says
`governor: true`: then the send governor paces them as in production.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import StrictBool, model_validator
from pydantic_core import PydanticCustomError

from bot.clock import SystemClock
from bot.config import Config
from bot.events import MESSAGE_KINDS, Outgoing, RoomRef
from bot.playbook.errors import Location, Problem, Problems, did_you_mean
from bot.playbook.library import PlaybookSet, display_path
from bot.playbook.loader import Doc, read_yaml
from bot.playbook.loader import Path as YamlPath
from bot.playbook.types import Duration, LocalDateTime, Params
from bot.playbook.validate import describe, validate_model
from bot.scenario_expect import CheckStep, Filter, Names, Said, check
from bot.testing import TestBot


class RoomSpec(Params):
    id: str
    topic: str | None = None
    tags: list[str] = []
    bot_admin: StrictBool = True  # false: the bot is no owner or admin there, so WeChat refuses its removals
    managed: StrictBool = True  # false: a group the bot is in but does not manage (a staff room for alerts)


class MemberSpec(Params):
    id: str
    name: str | None = None
    role: Literal["owner", "admin", "staff"] | None = None
    friend: StrictBool = True
    tags: list[str] = []
    joined: LocalDateTime | None = None


class Header(Params):
    name: str
    start: LocalDateTime | None = None
    governor: StrictBool = False  # pace sends as in production: messages leave as `advance` moves the clock
    config: dict[str, Any] = {}  # config.yaml keys merged over the config in use (the scenario's win)
    rooms: list[RoomSpec] = []
    members: list[MemberSpec] = []
    steps: list[Any]


class JoinStep(Params):
    member: str
    room: str
    by: str | None = None


class LeaveStep(Params):
    member: str
    room: str
    removed: StrictBool = False


class SayStep(Params):
    """A member's message: a text, or another kind (`kind: image, qr: ...`), where `text` is optional."""

    member: str
    text: Said | None = None
    room: str | None = None
    mentions: Names = []
    kind: Literal[MESSAGE_KINDS] = "text"  # type: ignore[valid-type]
    url: str | None = None
    title: str | None = None
    qr: str | None = None

    @model_validator(mode="after")
    def _said(self) -> SayStep:
        if self.kind == "text" and self.text is None:
            raise PydanticCustomError(
                "say", "'say' needs a text, or a kind other than text (e.g. kind: image, qr: ...)", {}
            )
        return self


class AdvanceStep(Params):
    span: Duration


STEPS: dict[str, tuple[type[Params], str | None]] = {
    "join": (JoinStep, None),
    "leave": (LeaveStep, None),
    "say": (SayStep, None),
    "advance": (AdvanceStep, "span"),
    "expect": (Filter, None),
    "expect_none": (Filter, None),
    "check": (CheckStep, None),
}


@dataclass
class Step:
    kind: str
    params: Any
    location: Location


@dataclass
class Scenario:
    name: str
    path: str
    header: Header
    steps: list[Step]


@dataclass
class Result:
    name: str
    path: str
    passed: bool
    detail: list[str] = field(default_factory=list)


def _parse_step(doc: Doc, path: YamlPath, item: object, problems: Problems) -> Step | None:
    if not isinstance(item, dict) or len(item) != 1:
        problems.add(doc.at(path), f"each step is a one-key mapping like '- say: {{...}}'; got {describe(item)}")
        return None
    kind, value = next(iter(item.items()))
    if kind not in STEPS:
        problems.add(doc.key_at((*path, kind)), f"unknown step '{kind}'{did_you_mean(kind, STEPS)}")
        return None
    schema, primary = STEPS[kind]
    base = (*path, kind)
    if isinstance(value, dict):
        data, paths = value, {k: (*base, k) for k in value}
    elif primary is not None:
        data, paths = {primary: value}, {primary: base}
    else:
        problems.add(doc.at(base), f"'{kind}' takes a mapping, like '{kind}: {{member: u1, ...}}'")
        return None
    params = validate_model(doc, schema, data, problems, base=base, label=kind, field_paths=paths)
    return None if params is None else Step(kind, params, doc.key_at(base))


def parse_scenario(file: Path, display: str, problems: Problems) -> Scenario | None:
    before = len(problems)
    doc = read_yaml(str(file), display, problems)
    if doc is None:
        return None
    if not isinstance(doc.data, dict):
        problems.add(doc.at(()), f"a scenario is a mapping with name, rooms, members, steps; got {describe(doc.data)}")
        return None
    header = validate_model(doc, Header, doc.data, problems, base=(), label="scenario")
    if not isinstance(header, Header):
        return None
    if header.config:  # checked here, where it is written, as config.yaml would be
        data, base = header.config, ("config",)
        validate_model(doc, Config, data, problems, base=base, label="config", sections=Config.sections())
    steps = [_parse_step(doc, ("steps", i), item, problems) for i, item in enumerate(header.steps)]
    members = {m.id for m in header.members}
    rooms = {r.id for r in header.rooms}
    for i, step in enumerate(steps):
        if step is None:
            continue
        p = step.params
        for key, known, what in (
            ("member", members, "members"),
            ("room", rooms, "rooms"),
            ("by", members, "members"),
        ):
            value = getattr(p, key, None)
            if value is not None and value not in known:
                problems.add(doc.at(("steps", i, step.kind, key)), f"'{value}' is not in this scenario's {what}")
        for mentioned in getattr(p, "mentions", []) if step.kind == "say" else []:
            if mentioned not in members:
                problems.add(
                    doc.at(("steps", i, step.kind, "mentions")),
                    f"'{mentioned}' is not in this scenario's members",
                )
    if len(problems) > before:
        return None
    return Scenario(header.name, display, header, [s for s in steps if s is not None])


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` laid over `base`, mapping by mapping (a scenario's `config:` over the config in use)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def scenario_config(base: Config, scenario: Scenario) -> Config:
    """The operator's config with the scenario's `config:` over it, its staff roles, and its rooms (but those
    marked `managed: false`) as the managed rooms."""
    data = merged(base.model_dump(), scenario.header.config)
    for role in ("owner", "admin", "staff"):
        data["staff"][role] = list(data["staff"][role]) + [m.id for m in scenario.header.members if m.role == role]
    rooms = []
    for spec in (r for r in scenario.header.rooms if r.managed):
        topic = spec.topic or spec.id
        entry = base.named_entry(RoomRef(spec.id, topic))  # the operator's own groups: named is bound
        inherited = set(entry.tags) if entry is not None else set()
        rooms.append({"id": spec.id, "topic": topic, "tags": sorted(set(spec.tags) | inherited)})
    data["rooms"] = rooms
    return Config.model_validate(data).with_base(base.path("."))


def _show(message: Outgoing, consumed: bool) -> str:
    mark = "✓" if consumed else " "
    if message.remove:
        return f"  {mark} → {message.target_id}: (removed {message.member.id if message.member else '?'})"
    if message.announce:
        return f"  {mark} → {message.target_id}: (announcement) {_short(message.text)}"
    mentions = "".join(f"@{m.id} " for m in message.mentions)
    return f"  {mark} → {message.target_id}: {mentions}{_short(message.text)}"


def _short(text: str) -> str:
    text = text.replace("\n", "⏎")
    return text[:117] + "..." if len(text) > 120 else text


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


async def run_scenario(
    scenario: Scenario, playbooks: PlaybookSet, config: Config, *, database: str | None = None
) -> Result:
    """`database`: where the scenario's bot keeps its data (default: TestBot's, a fresh in-memory one)."""
    config = scenario_config(config, scenario)
    header = scenario.header
    start = (header.start or SystemClock().now().astimezone(config.tz).replace(tzinfo=None)).replace(tzinfo=config.tz)
    errors = _ErrorLog()
    logger = logging.getLogger("qunguan")
    logger.addHandler(errors)
    # Trusted, a config naming no groups manages them all: rooms all `managed: false` must not turn into that.
    trusted = not header.rooms or any(room.managed for room in header.rooms)
    bot = await TestBot.create(
        playbooks, config=config, start=start, governor=header.governor, trust_rooms=trusted, database=database
    )
    bot.connector.not_admin.update(room.id for room in header.rooms if not room.bot_admin)
    try:
        for room in header.rooms:
            await bot.add_room(room.id, room.topic or room.id)
        for m in header.members:
            bot.member(m.id, m.name or m.id)
            joined = m.joined.replace(tzinfo=config.tz) if m.joined else None
            await bot.seed(
                m.id,
                rooms=[r.id for r in header.rooms] if joined else [],
                joined=joined,
                tags=m.tags,
                friend=m.friend,
            )
        consumed: set[int] = set()
        saved: dict[str, str] = {}  # named groups of the expects' regexes, for `${name}` in later says
        for number, step in enumerate(scenario.steps, 1):
            failure = await _step(bot, step, consumed, saved)
            if failure is None and errors.records:
                failure = "a playbook failed while running: " + "; ".join(errors.records)
            if failure is not None:
                detail = [f"step {number} ({step.kind}) at {step.location}: {failure}", "  sent:"]
                detail += [_show(m, i in consumed) for i, m in enumerate(bot.sent)] or ["    (nothing)"]
                waiting = await bot.queued()
                if waiting:
                    detail += ["  queued, not sent yet (the send governor paces them; `advance` lets them go):"]
                    detail += [_show(m, False) for m in waiting]
                return Result(scenario.name, scenario.path, False, detail)
        return Result(scenario.name, scenario.path, True)
    finally:
        logger.removeHandler(errors)
        await bot.close()


_SAVED = re.compile(r"\$\{(\w+)\}")


async def _step(bot: TestBot, step: Step, consumed: set[int], saved: dict[str, str]) -> str | None:
    """One step; None when it held, else what went wrong. An `expect` whose regex has named groups saves them:
    a later `say` writes `${code}` for what `(?P<code>...)` matched (a coupon code the bot made up)."""
    p = step.params
    if step.kind == "say" and p.text is not None:
        missing = [name for name in _SAVED.findall(p.text) if name not in saved]
        if missing:
            return f"'${{{missing[0]}}}' was not saved: an earlier expect's regex names it, like (?P<{missing[0]}>...)"
    if step.kind == "join":
        await bot.join(p.member, p.room, by=p.by)
    elif step.kind == "leave":
        await bot.leave(p.member, p.room, removed=p.removed)
    elif step.kind == "say":
        await bot.say(
            p.member,
            _SAVED.sub(lambda m: saved[m[1]], p.text or ""),
            room=p.room,
            mentions=tuple(p.mentions),
            kind=p.kind,
            url=p.url,
            title=p.title,
            qr=p.qr,
        )
    elif step.kind == "advance":
        await bot.advance(p.span)
    elif step.kind in ("expect", "expect_none"):
        hit = next((i for i, m in enumerate(bot.sent) if i not in consumed and p.matches(m)), None)
        if step.kind == "expect":
            if hit is None:
                return f"expected {p.describe()}; none of the unconsumed {p.noun}s matched"
            consumed.add(hit)
            found = p.regex.search(bot.sent[hit].text) if p.regex is not None else None
            saved.update({k: v for k, v in (found.groupdict() if found else {}).items() if v is not None})
        elif hit is not None:
            got = bot.sent[hit]
            seen = f"{got.member.id} removed from {got.target_id}" if got.remove and got.member else repr(got.text)
            seen = f"the announcement {got.text!r} in {got.target_id}" if got.announce else seen
            return f"expected no {p.describe().removeprefix('a ').removeprefix('the ')}; got: {seen}"
    elif step.kind == "check":
        return await check(bot, p)
    return None


def scenario_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for ext in ("*.yaml", "*.yml") for p in path.rglob(ext)))
        else:
            files.append(path)
    return files


async def run_files(
    files: list[Path], playbooks: PlaybookSet, config: Config, report: Any, *, database: str | None = None
) -> tuple[int, int, list[Problem]]:
    """Run every scenario; `report(result)` is called for each. Returns passed, failed, file problems."""
    passed = failed = 0
    problems = Problems()
    for file in files:
        scenario = parse_scenario(file, display_path(file), problems)
        if scenario is None:
            failed += 1
            continue
        result = await run_scenario(scenario, playbooks, config, database=database)
        report(result)
        passed += result.passed
        failed += not result.passed
    return passed, failed, problems.sorted()
