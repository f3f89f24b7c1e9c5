"""config.yaml as a checked model. Secrets never live here: they come from the environment."""

from __future__ import annotations

import functools
import os
import typing
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

from bot.events import RoomRef
from bot.fleet.settings import SINGLE, AccountEntry, FleetSection, account_names_valid
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, Language, spoken
from bot.playbook.errors import Location, Problem, Problems, ProblemsError, did_you_mean
from bot.playbook.loader import Doc, read_yaml
from bot.playbook.types import Duration, Params
from bot.playbook.validate import validate_model
from bot.registry import REGISTRY, RegistrationError, load_abilities
from bot.sending_settings import SendingSection
from bot.textnorm import fold

ROLES = ("owner", "admin", "staff")
S = TypeVar("S", bound=BaseModel)
_KNOWN_ERRORS = frozenset(typing.get_args(ErrorType))
_zone = functools.cache(ZoneInfo)  # Config.tz, asked once per event: the zone by its name, built once


class _Memo(dict[type[BaseModel], BaseModel]):
    """Config.section()'s answers: no part of the config's value, so two equal configs stay equal."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Memo)

    __hash__ = None  # type: ignore[assignment]


class BotSection(Params):
    name: str = "群管小助手"


class StaffSection(Params):
    owner: list[str] = []
    admin: list[str] = []
    staff: list[str] = []


class RoomSection(Params):
    """A managed group. By `id:` it is bound; by `topic:` only it is a candidate until an owner or admin binds it
    (/绑定 in it, or `qunguan rooms bind ID`): a topic is whatever a member types. `tags` go with the binding."""

    id: str | None = None
    topic: str | None = None
    tags: list[str] = []

    @model_validator(mode="after")
    def _named(self) -> RoomSection:
        if not self.id and not self.topic:
            raise ValueError("'rooms' entries need an 'id' or a 'topic'")
        return self


class WechatySection(Params):
    """The Wechaty puppet service. The token is a secret: only WECHATY_PUPPET_SERVICE_TOKEN sets it."""

    endpoint: str = ""  # host:port; WECHATY_PUPPET_SERVICE_ENDPOINT overrides it
    login_timeout: Duration = timedelta(seconds=60)
    reconnect_max: Duration = timedelta(seconds=60)  # longest pause between reconnection attempts


class FriendsSection(Params):
    """Friend requests: accepting them opens the friend -> group funnel (`friend` trigger, `invite`)."""

    accept: bool = True
    keywords: list[str] = []  # when given, the request's greeting must contain one of them


class OptOutSection(Params):
    """Words a member sends to stop (or resume) private messages and nudges from every playbook."""

    stop: list[str] = ["退订", "TD"]
    resume: list[str] = ["订阅"]
    stopped: str = "已退订：之后不再给你发私信和活动提醒。想恢复请回复「订阅」。"
    resumed: str = "已恢复订阅，活动提醒会照常发给你～"


class ReloadSection(Params):
    watch: bool = False  # re-read the playbooks folder when a file in it changes (checked once a second)


class WebSection(Params):
    """The web console (bot/console/): served only when `listen` is set, on 127.0.0.1 unless told otherwise.
    `public_url`: how staff reach it (behind a reverse proxy with TLS), the base of the one-time login links."""

    listen: str | None = None  # host:port, like 127.0.0.1:8080
    public_url: str = "http://127.0.0.1:8080"

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        host, _, port = (value or "").rpartition(":")
        if value is not None and not (host and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"'web.listen' must be host:port like 127.0.0.1:8080; got '{value}'")
        return value


class StoreSection(Params):
    """When the database is briefly unusable (another process holds its write lock, the disk is full, the
    PostgreSQL server restarts), events are held in order and tried again for `retry_for`; what is still not
    stored then goes to the dead-letter file beside the database, for `qunguan replay` (bot/intake.py)."""

    retry_for: Duration = timedelta(minutes=10)


class Config(Params):
    bot: BotSection = BotSection()
    timezone: str = "Asia/Shanghai"
    database: str = "data/qunguan.db"
    playbooks: str = "playbooks"
    connector: Literal["simulator", "wechaty", "memory"] = "simulator"
    wechaty: WechatySection = WechatySection()
    friends: FriendsSection = FriendsSection()
    sending: SendingSection = SendingSection()
    opt_out: OptOutSection = OptOutSection()
    reload: ReloadSection = ReloadSection()
    store: StoreSection = StoreSection()
    web: WebSection = WebSection()
    accounts: dict[str, AccountEntry] = {}  # a fleet: one process per WeChat account (bot/fleet/, docs/scale.md)
    fleet: FleetSection = FleetSection()
    # The least role per staff command, overriding its default, e.g. {加分: admin}; load_config checks the names.
    commands: dict[str, Literal["owner", "admin", "staff", "member"]] = {}
    staff: StaffSection = StaffSection()
    rooms: list[RoomSection] = []
    dm_fallback: Literal["mention", "skip"] = "mention"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Of problem texts in the CLI and in chat (logs stay English): zh-CN or en, or 中文 / English.
    language: Annotated[Language, BeforeValidator(spoken)] = DEFAULT_LANGUAGE
    # Then the sections abilities declare (bot.registry.config_section, e.g. `lifecycle` in handlers/segments.py).

    _base: Path = PrivateAttr(default_factory=Path.cwd)
    _roles: dict[str, str] = PrivateAttr(default_factory=dict)
    _sections: dict[str, BaseModel] = PrivateAttr(default_factory=dict)  # the abilities' sections config.yaml gave
    _account: str = PrivateAttr(default=SINGLE)  # the account this process runs (bot/fleet/accounts.py)
    _shop: Config | None = PrivateAttr(default=None)  # config.yaml as written, before an account's view of it
    # section()'s answers: a config is replaced on reload, never changed, and model_copy cannot change sections
    _built: _Memo = PrivateAttr(default_factory=lambda: _Memo())

    @classmethod
    def sections(cls) -> dict[str, type[BaseModel]]:
        """The sections abilities declared (bot.registry.config_section): config.yaml key -> model."""
        clash = sorted(REGISTRY.config_sections.keys() & cls.model_fields.keys())
        if clash:
            raise RegistrationError(f"config section '{clash[0]}' is one of the machinery's settings (bot/config.py)")
        return REGISTRY.config_sections

    @model_validator(mode="wrap")
    @classmethod
    def _with_sections(cls, data: Any, handler: ModelWrapValidatorHandler[Config]) -> Config:
        """The machinery's settings and the abilities' sections are checked together: one list of problems, each
        at its own key, as if they were all fields of this model."""
        sections = cls.sections()
        if not isinstance(data, Mapping) or not sections:
            return handler(data)
        errors: list[InitErrorDetails] = []
        given: dict[str, BaseModel] = {}
        for key, schema in sections.items():
            if key not in data:
                continue
            try:
                section = schema.model_validate(data[key])
            except ValidationError as exc:
                errors += _relocated(exc, (key,))
                continue
            if section != schema():  # one given as its defaults is the same config as one left out
                given[key] = section
        try:
            config = handler({key: value for key, value in data.items() if key not in sections})
        except ValidationError as exc:
            errors = [*_relocated(exc, ()), *errors]
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        config._sections = given
        return config

    @model_serializer(mode="wrap")
    def _dump_sections(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        """The abilities' sections are dumped beside the machinery's settings: the same shape as config.yaml."""
        data: dict[str, Any] = handler(self)
        for key, schema in self.sections().items():
            section = self.section(schema)
            left_out = (info.exclude_unset and key not in self._sections) or (
                info.exclude_defaults and section == schema()
            )
            if left_out or key in (info.exclude or ()) or (info.include is not None and key not in info.include):
                continue
            data[key] = section.model_dump(
                mode=info.mode,
                by_alias=bool(info.by_alias),
                exclude_unset=info.exclude_unset,
                exclude_defaults=info.exclude_defaults,
                exclude_none=info.exclude_none,
            )
        return data

    def section(self, schema: type[S]) -> S:
        """An ability's section of config.yaml, as the file gave it or else its defaults (found once per config:
        every moderated message asks)."""
        private = self.__pydantic_private__
        assert private is not None
        built = private["_built"].get(schema)
        if built is not None:
            return built  # type: ignore[return-value]
        key = next((key for key, model in self.sections().items() if model is schema), None)
        if key is None:
            raise LookupError(f"{schema.__name__} is not a config section: declare it with @config_section")
        given = private["_sections"].get(key)
        section = given if isinstance(given, schema) else schema()
        private["_built"][schema] = section
        return section

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'timezone' must be an IANA zone like Asia/Shanghai; got '{value}'") from None
        return value

    @field_validator("accounts")
    @classmethod
    def _account_names(cls, value: dict[str, AccountEntry]) -> dict[str, AccountEntry]:
        if (problem := account_names_valid(list(value))) is not None:
            raise ValueError(problem)
        return value

    @property
    def account(self) -> str:
        """The WeChat account this process runs: `qunguan run --account NAME`, or 'default' outside a fleet."""
        return self.__pydantic_private__["_account"]  # type: ignore[index]  # the slot: see role_of

    def with_account(self, name: str, shop: Config | None = None) -> Config:
        self._account, self._shop = name, shop
        return self

    @property
    def shop(self) -> Config:
        """The shop's config.yaml as written: every account's limits are read from it, not from this one's view."""
        return self._shop or self

    def model_post_init(self, _context: object) -> None:
        for role in reversed(ROLES):  # the highest role wins when an id is listed twice
            for member_id in getattr(self.staff, role):
                self._roles[member_id] = role

    @property
    def tz(self) -> ZoneInfo:
        return _zone(self.timezone)

    def with_base(self, base: Path) -> Config:
        self._base = base
        return self

    def path(self, value: str) -> Path:
        """A path from config, relative to the folder config.yaml is in."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self._base / p

    @property
    def database_path(self) -> str:
        return self.database if self.database == ":memory:" or "://" in self.database else str(self.path(self.database))

    def role_of(self, member_id: str) -> str | None:
        """Role by WeChat id only: a display name never grants anything. Read from pydantic's slot: `self._roles`
        first fails the ordinary lookup and costs microseconds in BaseModel.__getattr__, twice per event."""
        return self.__pydantic_private__["_roles"].get(member_id)  # type: ignore[index]

    def room_by_id(self, room_id: str) -> RoomSection | None:
        """The `rooms:` entry that binds this group by its id (a topic never binds: bot/rooms.py)."""
        return next((entry for entry in self.rooms if entry.id and entry.id == room_id), None)

    def candidate(self, topic: str | None) -> RoomSection | None:
        """The `rooms:` entry naming a group by topic only: a candidate an owner or admin may bind."""
        return next((e for e in self.rooms if not e.id and e.topic and e.topic == topic), None) if topic else None

    def named_entry(self, room: RoomRef) -> RoomSection | None:
        """The entry naming a group by id or topic: how trusted setups (simulator, scenarios) pick theirs."""
        return next((e for e in self.rooms if (e.id and e.id == room.id) or (e.topic and e.topic == room.topic)), None)

    @property
    def all_room_tags(self) -> set[str]:
        return {tag for entry in self.rooms for tag in entry.tags}


DEFAULT_CONFIG = "config.yaml"
DATABASE_ENV = "QUNGUAN_DATABASE_URL"  # a database URL with a password belongs in the environment, not in the file
DATABASE_ENVS = (DATABASE_ENV, "QUNGUAN_DATABASE")  # the older name still works


def load_config(path: str | None, *, commands: Mapping[str, str] | None = None) -> tuple[Config, str]:
    """Read config.yaml. A missing default file means defaults; a missing named file is an error.

    `commands`: every staff command name and alias (casefolded) -> its name, from whoever loaded the abilities;
    with it, `commands:` keys are checked and given as names. Returns the config and a note for the operator
    about where it came from. The abilities are loaded first: the sections they declare are settings of this file.
    """
    load_abilities()
    file = Path(path or DEFAULT_CONFIG)
    if not file.exists():
        if path is not None:
            raise ProblemsError([Problem(Location(str(file), 1, 1), "config file not found")])
        return _from_environment(Config()), f"no {DEFAULT_CONFIG} here; using built-in defaults"
    problems = Problems()
    doc = read_yaml(str(file), str(file), problems)
    config = None
    language: str | None = None  # the one a broken file asks for, to report its problems in
    if doc is not None:
        data = doc.data if doc.data is not None else {}
        if not isinstance(data, dict):
            problems.add(doc.at(()), "config.yaml must be a mapping of settings")
        else:
            asked = spoken(data.get("language", DEFAULT_LANGUAGE))
            language = str(asked) if asked in LANGUAGES else None
            config = validate_model(doc, Config, data, problems, base=(), label="config", sections=Config.sections())
    if isinstance(config, Config) and commands is not None and doc is not None:
        roles = _command_roles(doc, config.commands, commands, problems)
        config = config.model_copy(update={"commands": roles})
    if problems or not isinstance(config, Config):
        raise ProblemsError(problems.sorted(), language=language)
    return _from_environment(config).with_base(file.resolve().parent), f"config from {file}"


def _relocated(exc: ValidationError, under: tuple[str, ...]) -> list[InitErrorDetails]:
    """`exc`'s errors as they would have been found `under` a key of Config, for one ValidationError of all."""
    out: list[InitErrorDetails] = []
    for err in exc.errors():
        kind = err["type"]
        detail: InitErrorDetails = {
            "type": kind if kind in _KNOWN_ERRORS else PydanticCustomError(kind, err["msg"]),
            "loc": (*under, *err["loc"]),
            "input": err["input"],
        }
        if "ctx" in err and kind in _KNOWN_ERRORS:
            detail["ctx"] = err["ctx"]
        out.append(detail)
    return out


def _from_environment(config: Config) -> Config:
    """Settings that are secrets come from the environment and win over the file: QUNGUAN_DATABASE_URL."""
    database = next((os.environ[name].strip() for name in DATABASE_ENVS if os.environ.get(name, "").strip()), "")
    return config.model_copy(update={"database": database}) if database else config


def _command_roles(doc: Doc, given: Mapping[str, str], known: Mapping[str, str], problems: Problems) -> dict[str, str]:
    """`commands:` keyed by command name: a slash, spaces, case and aliases (addpoints) are tolerated; an unknown
    name is an error, not a setting silently ignored while staff keep a command the owner meant to restrict."""
    roles: dict[str, str] = {}
    written: dict[str, str] = {}
    for key, role in given.items():
        where = doc.key_at(("commands", key))
        name = known.get(fold(key).lstrip("/").strip().casefold())
        if name is None:
            problems.add(where, f"unknown command '{key}'{did_you_mean(fold(key).lstrip('/').strip(), known)}")
        elif name in roles:
            problems.add(where, f"'{key}' sets /{name} again (already set as '{written[name]}')")
        else:
            roles[name], written[name] = role, key
    return roles
