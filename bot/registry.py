"""The one registry of abilities: actions, conditions, triggers, member fields, resource blocks, staff commands,
window kinds, config.yaml sections and guards, each declared by a decorator (or call) in the module that implements it.
An ability's tables are SQLModel classes beside its code: SQLModel's metadata is their registry, and the store
loads the abilities before it creates or migrates a database (bot/store/migrations.py).

Schemas and signatures are checked when a handler module is imported, so a misspelt primary field or a sync
function fails at start-up, not when a member first triggers it. `bot/` never imports a handler by name:
`load_abilities` imports the package. This module imports nothing of the runtime: the playbook language
(bot/playbook) reads what it needs from here, e.g. the staff command names a playbook command may not take.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

VarScope = Mapping[str, frozenset[str] | None]
F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S", bound=BaseModel)

_NAME = re.compile(r"^[a-z][a-z_]*$")

# Attributes every member view has; abilities add more with `member_field`.
MEMBER: frozenset[str] = frozenset({"id", "name", "role"})
# A loader gets (ctx, member_id); ctx is a bot.context.FieldContext: `.conn`, `.config`, `.local_now()`.
MemberLoader = Callable[[Any, str], Awaitable[Any]]

# A resource block whose entries are member fields (`fields:`) loads one with (ctx, member_id, entry).
EntryLoader = Callable[[Any, str, Any], Awaitable[Any]]

# A segment filter gets (value, scope): the key's validated value and a handlers.segments.SegmentScope (`now`,
# `local_today`, `config`); it returns an SQL condition over the members table.
SegmentClause = Callable[[Any, Any], Any]

RANK = {"member": 0, "staff": 1, "admin": 2, "owner": 3}  # the roles of config.yaml, least first
MAX_COMMAND = 300  # characters of a whole command as typed; /群发 declares its own


class RegistrationError(Exception):
    """A handler declared itself wrongly; raised at import time."""


@dataclass(frozen=True)
class Spec:
    kind: str  # "action" | "condition" | "trigger"
    name: str
    schema: type[BaseModel]
    primary: str | None
    func: Callable[..., Any] | None
    sets: VarScope = field(default_factory=dict)
    claims: bool = False  # condition records a use (once, cooldown): evaluated last
    events: tuple[str, ...] = ()  # trigger: which event kinds it listens to
    member_directed: bool = False  # action: acts on `member` unless `to:` says otherwise
    refs: Mapping[str, str] = field(default_factory=dict)  # option -> resource block it names (batch -> coupons)
    body: str | None = None  # action: the option holding nested actions (for_each's `do`), built by builder.py

    @property
    def summary(self) -> str:
        """The handler's docstring, else the schema's own (never one inherited from a base model)."""
        own = self.schema.__dict__.get("__doc__")
        return inspect.getdoc(self.func) or (inspect.cleandoc(own) if own else "")


@dataclass(frozen=True)
class ResourceSpec:
    """A top-level block of playbooks (`coupons:`, `questions:`): named things any playbook may use.

    `form`: "list" of entries each with an `id` (coupons), "mapping" of id -> list of entries
    (question banks: each bank is a list of questions), or "words" of id -> list of words (word lists; the schema
    only documents them).
    """

    block: str
    schema: type[BaseModel]
    form: Literal["list", "mapping", "words"]
    noun: str  # what one entry is called in messages: "coupon batch", "question bank"
    refs: Mapping[str, str] = field(default_factory=dict)  # "list" form: option -> block it names (coupon -> coupons)
    member_field: EntryLoader | None = None  # each entry is `member.<id>` (`fields:`), loaded by this


@dataclass(frozen=True)
class StaffCommand:
    """A staff slash command (bot/commands.py runs it): `handler(ctx: CommandContext) -> answer`."""

    name: str
    aliases: tuple[str, ...]
    role: str  # the least role that may use it; config.yaml's `commands:` may change it
    usage: str
    summary: str  # what /帮助 shows: the first line of the handler's docstring
    handler: Callable[[Any], Awaitable[str]]
    refusal: str | None  # said to someone without the role; None: the standard line naming the role
    prepare: Callable[[Any, Any], Awaitable[Any]] | None  # reads before the event's transaction: ctx.prepared
    unbound: bool  # heard in a group nobody bound (only /绑定: bot/rooms.py)
    max_length: int  # characters of the whole command as typed


OnMessage = Callable[[Any, Any, Any], Awaitable[None]]  # (ctx: RunContext, window: OpenWindow, event)
OnClose = Callable[[Any, Any], Awaitable[None]]  # (ctx: RunContext, window: OpenWindow)


@dataclass(frozen=True)
class WindowKind:
    """What happens in a listening window (bot/windows.py): `on_message(ctx, window, event)` for each message in
    its room while it is open, `on_close(ctx, window)` once when its time is up."""

    name: str
    on_message: OnMessage
    on_close: OnClose


@dataclass(frozen=True)
class Guard:
    """A check every event of some kinds in a managed group goes through before staff commands and playbooks
    (bot/stages/guards.py): `func(ctx: RunContext) -> bool`, True when it dealt with the event (it goes no
    further: a blacklisted member's join gets no welcome). Its messages are queued like a playbook's."""

    name: str
    events: tuple[str, ...]
    func: Callable[[Any], Awaitable[bool]]


class Registry:
    def __init__(self) -> None:
        self.actions: dict[str, Spec] = {}
        self.conditions: dict[str, Spec] = {}
        self.triggers: dict[str, Spec] = {}
        self.member_fields: dict[str, MemberLoader] = {}
        self.resources: dict[str, ResourceSpec] = {}
        self.commands: dict[str, StaffCommand] = {}  # every name and alias, casefolded -> the command
        self.window_kinds: dict[str, WindowKind] = {}
        self.config_sections: dict[str, type[BaseModel]] = {}  # config.yaml key -> its model (bot/config.py)
        self.guards: dict[str, Guard] = {}
        self.segment_filters: dict[str, SegmentClause] = {}  # a key of a segment -> its SQL (handlers/segments.py)

    def command_names(self) -> dict[str, str]:
        """Every name and alias (casefolded) -> the command's name: what config.yaml's `commands:` may say, and
        what no playbook's `command:` trigger may take."""
        return {key: command.name for key, command in self.commands.items()}

    def member_scope(self) -> frozenset[str]:
        return MEMBER | frozenset(self.member_fields)

    def _table(self, kind: str) -> dict[str, Spec]:
        return {"action": self.actions, "condition": self.conditions, "trigger": self.triggers}[kind]

    def add(self, spec: Spec) -> None:
        where = f"{spec.kind} '{spec.name}'"
        if not _NAME.match(spec.name):
            raise RegistrationError(f"{where}: names are lower-case words")
        if spec.name in self._table(spec.kind):
            raise RegistrationError(f"{where} is registered twice")
        if not (isinstance(spec.schema, type) and issubclass(spec.schema, BaseModel)):
            raise RegistrationError(f"{where}: schema must be a pydantic model")
        if spec.schema.model_config.get("extra") != "forbid":
            raise RegistrationError(f"{where}: schema must forbid unknown keys")
        if spec.primary is not None and spec.primary not in spec.schema.model_fields:
            raise RegistrationError(f"{where}: primary field '{spec.primary}' is not in its schema")
        if spec.func is not None:
            if not inspect.iscoroutinefunction(spec.func):
                raise RegistrationError(f"{where}: handler must be 'async def'")
            params = list(inspect.signature(spec.func).parameters)
            if len(params) != 2:
                raise RegistrationError(f"{where}: handler takes (ctx, params), got {params}")
        if spec.member_directed and "to" not in spec.schema.model_fields:
            raise RegistrationError(f"{where}: member-directed actions need a 'to' field")
        if spec.body is not None and spec.body in spec.schema.model_fields:
            raise RegistrationError(f"{where}: '{spec.body}' holds nested actions; builder.py makes it, not the schema")
        for option in spec.refs:
            if option.split(".")[0] not in spec.schema.model_fields:
                raise RegistrationError(f"{where}: refers through '{option}', which is not in its schema")
        self._table(spec.kind)[spec.name] = spec


REGISTRY = Registry()


def action(
    name: str,
    *,
    schema: type[BaseModel],
    primary: str | None = None,
    sets: VarScope | None = None,
    member_directed: bool = False,
    refs: Mapping[str, str] | None = None,
    body: str | None = None,
) -> Callable[[F], F]:
    """Declare a playbook action: `async def fn(ctx: RunContext, params) -> None`.

    `refs` maps an option (dotted for nested ones: `reward.coupon`) to the resource block whose ids it names,
    checked across all playbooks at load.
    """

    def register(fn: F) -> F:
        spec = Spec(
            "action", name, schema, primary, fn, sets or {}, member_directed=member_directed, refs=refs or {}, body=body
        )
        REGISTRY.add(spec)
        return fn

    return register


def resource(
    block: str,
    *,
    schema: type[BaseModel],
    form: Literal["list", "mapping", "words"],
    noun: str,
    refs: Mapping[str, str] | None = None,
    member_field: EntryLoader | None = None,
) -> None:
    """Declare a top-level playbook block; its entries are validated with `schema` and shared by all playbooks.
    `refs` as for actions: an entry's option naming an entry of another block (a reward's `coupon`).
    `member_field`: each entry is `member.<id>`, read by `member_field(ctx, member_id, entry)`."""
    if not _NAME.match(block):
        raise RegistrationError(f"resource '{block}': names are lower-case words")
    if block in REGISTRY.resources:
        raise RegistrationError(f"resource '{block}' is registered twice")
    if schema.model_config.get("extra") != "forbid":
        raise RegistrationError(f"resource '{block}': schema must forbid unknown keys")
    if form == "list" and "id" not in schema.model_fields:
        raise RegistrationError(f"resource '{block}': a list of entries needs an 'id' field")
    for option in refs or {}:
        if form != "list" or option not in schema.model_fields:
            raise RegistrationError(f"resource '{block}': refers through '{option}', which is not in its entries")
    if member_field is not None and (form != "list" or not inspect.iscoroutinefunction(member_field)):
        raise RegistrationError(f"resource '{block}': member fields are a list of entries loaded by an 'async def'")
    REGISTRY.resources[block] = ResourceSpec(block, schema, form, noun, refs or {}, member_field)


def condition(
    name: str, *, schema: type[BaseModel], primary: str | None = None, claims: bool = False
) -> Callable[[F], F]:
    """Declare a condition: `async def fn(ctx: RunContext, params) -> bool`."""

    def register(fn: F) -> F:
        REGISTRY.add(Spec("condition", name, schema, primary, fn, claims=claims))
        return fn

    return register


def trigger(
    name: str,
    *,
    schema: type[BaseModel],
    events: tuple[str, ...],
    sets: VarScope,
    primary: str | None = None,
    refs: Mapping[str, str] | None = None,
) -> None:
    """Declare a trigger; the engine's index decides how each event kind is matched. `refs` as for actions."""
    REGISTRY.add(Spec("trigger", name, schema, primary, None, sets, events=events, refs=refs or {}))


def member_field(name: str) -> Callable[[F], F]:
    """Declare `member.NAME` for templates: `async def load(ctx, member_id) -> value`."""

    def register(fn: F) -> F:
        if name in MEMBER or name in REGISTRY.member_fields:
            raise RegistrationError(f"member field '{name}' is registered twice")
        if not inspect.iscoroutinefunction(fn):
            raise RegistrationError(f"member field '{name}': loader must be 'async def'")
        REGISTRY.member_fields[name] = fn
        return fn

    return register


def segment_filter(name: str) -> Callable[[F], F]:
    """Declare the SQL of a segment key (a field of handlers.segments.Segment) in the module that owns its data:
    `def clause(value, scope) -> ColumnElement[bool]` over the members table, so a segment stays one query."""

    def register(fn: F) -> F:
        if name in REGISTRY.segment_filters:
            raise RegistrationError(f"segment filter '{name}' is registered twice")
        REGISTRY.segment_filters[name] = fn
        return fn

    return register


def staff_command(
    name: str,
    *,
    aliases: tuple[str, ...] = (),
    role: str,
    usage: str,
    refusal: str | None = None,
    prepare: Callable[[Any, Any], Awaitable[Any]] | None = None,
    unbound: bool = False,
    max_length: int = MAX_COMMAND,
) -> Callable[[F], F]:
    """Declare a staff command: `async def fn(ctx: CommandContext) -> str`, the answer; its docstring's first line
    is what `/帮助` shows. `refusal` replaces the standard refusal for commands customers are likely to try
    (/核销 at the till); `prepare(admin, event)` runs before the event's transaction and may only read (/重载
    reading the folder): the event may yet turn out a duplicate; `unbound`: heard in a group nobody bound;
    `max_length`: longer commands are refused (a 1 MB reason is not a reason)."""

    def register(fn: F) -> F:
        if role not in RANK:
            raise RegistrationError(f"command '{name}': unknown role '{role}'")
        if not inspect.iscoroutinefunction(fn):
            raise RegistrationError(f"command '{name}': handler must be 'async def'")
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        command = StaffCommand(name, aliases, role, usage, summary, fn, refusal, prepare, unbound, max_length)
        for key in (name, *aliases):
            if key.casefold() in REGISTRY.commands:
                raise RegistrationError(f"command '{key}' is registered twice")
            REGISTRY.commands[key.casefold()] = command
        return fn

    return register


def guard(name: str, *, events: tuple[str, ...]) -> Callable[[F], F]:
    """Declare a guard (see Guard): `async def fn(ctx: RunContext) -> bool`."""

    def register(fn: F) -> F:
        if name in REGISTRY.guards:
            raise RegistrationError(f"guard '{name}' is registered twice")
        if not inspect.iscoroutinefunction(fn):
            raise RegistrationError(f"guard '{name}': handler must be 'async def'")
        REGISTRY.guards[name] = Guard(name, events, fn)
        return fn

    return register


def window_kind(
    name: str,
    *,
    on_message: Callable[[Any, Any, Any], Awaitable[None]],
    on_close: Callable[[Any, Any], Awaitable[None]],
) -> None:
    """Declare what happens in a window of this kind (handlers/quiz.py, handlers/claim.py)."""
    if name in REGISTRY.window_kinds:
        raise RegistrationError(f"window kind '{name}' is registered twice")
    REGISTRY.window_kinds[name] = WindowKind(name, on_message, on_close)


def config_section(key: str) -> Callable[[type[S]], type[S]]:
    """Declare a top-level section of config.yaml that an ability reads, on its model:
    `@config_section("lifecycle") class LifecycleSection(Params)`; the ability reads it with
    `ctx.config.section(LifecycleSection)`. bot/config.py validates it with the machinery's settings, so its
    problems are located in config.yaml like theirs. Every field needs a default: a config.yaml without the
    section must run."""

    def register(schema: type[S]) -> type[S]:
        where = f"config section '{key}'"
        if not _NAME.match(key):
            raise RegistrationError(f"{where}: names are lower-case words")
        if key in REGISTRY.config_sections:
            raise RegistrationError(f"{where} is registered twice")
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            raise RegistrationError(f"{where}: its model must be a pydantic model")
        if schema in REGISTRY.config_sections.values():
            raise RegistrationError(f"{where}: {schema.__name__} is already the model of another section")
        if schema.model_config.get("extra") != "forbid":
            raise RegistrationError(f"{where}: its model must forbid unknown keys")
        required = [name for name, info in schema.model_fields.items() if info.is_required()]
        if required:
            raise RegistrationError(f"{where}: every field needs a default; {', '.join(required)} has none")
        REGISTRY.config_sections[key] = schema
        return schema

    return register


_loaded = False


def load_abilities() -> Registry:
    """Import bot built-ins and every module of the `handlers` package once."""
    global _loaded
    if not _loaded:
        importlib.import_module("bot.builtins")
        package = importlib.import_module("handlers")
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"handlers.{info.name}")
        _loaded = True
    return REGISTRY
