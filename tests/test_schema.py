"""The editor schema of playbooks agrees with the loader: what loads validates, clear mistakes do not.

The schema is checked as editors and CI tools check YAML, by an independent validator: check-jsonschema
(its command line on files, its library on generated texts), which reads YAML 1.2 (ruamel.yaml) and runs
`pattern` and `format: regex` as ECMA-262 regexes (regress), as the VS Code YAML extension does, and shares
no code with bot/playbook/schema.py. Every playbook the loader accepts must validate: the shipped ones,
every example in README, docs/, the contract and the notes of later issues (as soon as the loader takes
it), and generated ones. Nothing here reaches the network: a fixture closes it, and the schema refers to
nothing outside itself.
"""

from __future__ import annotations

import json
import re
import socket
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, NoReturn

import contract_examples
import pytest
import yaml
from check_jsonschema.cli.main_command import main as check_jsonschema
from check_jsonschema.formats import FormatOptions
from check_jsonschema.parsers import ParseError, ParserSet
from check_jsonschema.regex_variants import RegexImplementation, RegexVariantName
from check_jsonschema.schema_loader import SchemaLoader
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match
from pydantic import BaseModel, Field
from reliability.test_fuzz_playbooks import _spots, generated_yaml, mutated_yaml

from bot.playbook.errors import Problems
from bot.playbook.library import load_folder, load_texts, playbook_files
from bot.playbook.loader import parse_yaml
from bot.playbook.model import TOP_KEYS
from bot.playbook.schema import json_schema
from bot.playbook.types import BLANK, DIGIT, Duration, Params, TextField
from bot.registry import Registry, Spec, load_abilities

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = playbook_files(ROOT / "playbooks")
SCHEMA_LINE = "# yaml-language-server: $schema="


# -- check-jsonschema, offline


@pytest.fixture(scope="module", autouse=True)
def network_attempts() -> Iterator[list[str]]:
    """The network is closed in tests: a validator that tries to fetch a metaschema or a schema catalogue
    fails here, and the attempt is recorded."""
    attempts: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        attempts.append(repr(args[-1] if args else kwargs))
        raise OSError("no network in tests")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", refuse)
        patch.setattr(socket.socket, "connect", refuse)
        yield attempts


class Editor:
    """check-jsonschema against one schema file: its command line on files, as a pre-commit hook or CI runs
    it, and its library on one text at a time (the schema read and compiled once, for generated playbooks)."""

    def __init__(self, schema: dict[str, Any], folder: Path, attempts: list[str]) -> None:
        self.folder = folder
        self.schema_file = folder / "qunguan.schema.json"
        self.schema_file.write_text(json.dumps(schema, ensure_ascii=False), "utf-8")
        self.attempts = attempts
        ecma = RegexImplementation(RegexVariantName.default)  # ECMA-262 regexes, as editors run them
        loader = SchemaLoader(str(self.schema_file))
        self.validator = loader.get_validator(self.schema_file, {}, FormatOptions(regex_impl=ecma), ecma, False)
        self.parsers = ParserSet()

    def check(self, files: Sequence[Path]) -> dict[str, list[str]]:
        """Each file's problems: YAML it cannot read, and where it breaks the schema (the deepest match)."""
        args = ["--schemafile", str(self.schema_file), "--output-format", "json", *map(str, files)]
        result = CliRunner().invoke(check_jsonschema, args, catch_exceptions=False)
        assert not self.attempts, f"check-jsonschema tried the network: {self.attempts}"
        assert result.exit_code in (0, 1) and result.stdout.strip(), result.output
        report = json.loads(result.stdout)
        problems: dict[str, list[str]] = {str(file): [] for file in files}
        for error in report.get("parse_errors", []):  # the report has errors only when some file failed
            problems[error["filename"]].append(f"cannot read: {error['message']}")
        for error in report.get("errors", []):
            deepest = error.get("best_deep_match") or error
            problems[error["filename"]].append(f"{deepest['path']}: {deepest['message']}")
        return problems

    def read(self, text: str) -> Any:
        """A YAML text as check-jsonschema reads it (YAML 1.2, with ruamel.yaml)."""
        return self.parsers.parse_data_with_path(text.encode(), "playbook.yaml", "yaml")

    def errors(self, text: str) -> list[str]:
        try:
            data = self.read(text)
        except ParseError as exc:
            return [f"cannot read: {exc.__cause__}"]
        found = [best_match([error]) for error in self.validator.iter_errors(data)]
        assert not self.attempts, f"check-jsonschema tried the network: {self.attempts}"
        return [f"{error.json_path}: {error.message}" for error in found if error is not None]


@pytest.fixture(scope="module")
def editor(tmp_path_factory: pytest.TempPathFactory, network_attempts: list[str]) -> Editor:
    return Editor(json_schema(), tmp_path_factory.mktemp("editor"), network_attempts)


def parse(text: str, name: str = "t.yaml") -> Any:
    problems = Problems()
    doc = parse_yaml(text, name, problems)
    assert doc is not None, [str(p) for p in problems.sorted()]
    return doc.data


def loader_problems(text: str) -> list[str]:
    return [str(p) for p in load_texts({"t.yaml": text}).problems]


def as_json(data: Any) -> str:
    """Data as editors see it: mapping keys are text (`bonus: {7: 20}`), and only JSON's kinds of value."""

    def keys_as_text(node: Any) -> Any:
        if isinstance(node, dict):
            return {str(key): keys_as_text(value) for key, value in node.items()}
        return [keys_as_text(value) for value in node] if isinstance(node, list) else node

    return json.dumps(keys_as_text(data), ensure_ascii=False)


def read_alike(editor: Editor, text: str) -> bool:
    """Whether editors read the values the loader reads. Not quite always: on a few plain scalars the loader
    keeps YAML 1.1's reading (`1e3` is text, `017` is 15) where editors read YAML 1.2, and `!!binary` gives
    bytes, which JSON has not. No schema settles those: generated texts holding one are left out."""
    try:
        return as_json(editor.read(text)) == as_json(parse(text))
    except (ParseError, TypeError):
        return False


# -- (1) every playbook that loads also validates: shipped, documented, in the contract and in later issues


def test_there_are_shipped_playbooks_and_none_from_tests() -> None:
    assert SHIPPED
    assert not [p for p in SHIPPED if "tests" in p.relative_to(ROOT / "playbooks").parts]


def test_shipped_playbooks_validate_as_an_editor_sees_them(editor: Editor) -> None:
    assert not load_folder(ROOT / "playbooks").problems  # together: a bank may be declared in another file
    for path in SHIPPED:
        first = path.read_text("utf-8").splitlines()[0]
        assert first.startswith(SCHEMA_LINE), f"{path}: editors find the schema through this line"
        target = (path.parent / first.removeprefix(SCHEMA_LINE)).resolve()
        assert target == ROOT / "qunguan.schema.json", f"{path} points editors at {target}"
    assert {file: problems for file, problems in editor.check(SHIPPED).items() if problems} == {}


def documents() -> list[Path]:
    """Markdown that shows playbooks: README, docs/, the contract and the examples of later issues (copies
    under tests/contract/, and ../shared/ itself where it lies beside this clone)."""
    shared = ROOT.parent / "shared"
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "tests" / "contract").glob("*.md")),
        *(sorted(shared.glob("*.md")) if shared.is_dir() else []),
    ]


def test_documented_playbooks_that_load_validate(editor: Editor, tmp_path: Path) -> None:
    """Examples of later issues name abilities this version lacks: they are left out until they load,
    then checked like the others. An example of this version's language must load."""
    registry = load_abilities()
    files: dict[str, str] = {}
    for document in documents():
        where = document.relative_to(ROOT if ROOT in document.parents else ROOT.parent)
        for n, text in enumerate(contract_examples.playbooks(document), 1):
            problems = loader_problems(text)
            if problems:
                assert not contract_examples.uses_only_registered(parse(text), registry), (str(where), n, problems)
                continue
            file = tmp_path / f"{len(files):03d}.yaml"
            file.write_text(text, "utf-8")
            files[str(file)] = f"{where} example {n}"
    checked = {label.split(" example")[0] for label in files.values()}
    assert {"README.md", "docs/playbooks.md", "tests/contract/PLAYBOOKS.md"} <= checked, checked
    failing = {files[file]: problems for file, problems in editor.check([Path(f) for f in files]).items() if problems}
    assert failing == {}


# -- (2) the schema and the loader agree, item forms and mistakes alike


def playbook(
    *,
    when: str = "- join: {}",
    if_: str | None = None,
    do: str = "- reply: hi",
    head: str = "",
) -> str:
    def block(key: str, body: str) -> str:
        return f"{key}:\n{textwrap.indent(textwrap.dedent(body).strip(), '  ')}\n"

    text = "id: t\n" + textwrap.dedent(head) + block("when", when)
    if if_ is not None:
        text += block("if", if_)
    return text + block("do", do)


VALID = {
    "reply with mention beside it": playbook(do="- reply: hi\n  mention: true"),
    "reply as a mapping": playbook(do="- reply: {text: hi, mention: true}"),
    "reply as a mapping plus an option beside it": playbook(do="- reply: {text: hi}\n  mention: true"),
    "say, dm, tag, untag, wait": playbook(
        do="- say: {text: hi, room: 会员福利1群}\n- dm: hi\n- tag: 新人\n- untag: 新人\n- wait: 2s"
    ),
    "points short, long and redirected": playbook(
        do="- points: 10\n- points: {add: -20, reason: 兑换}\n- points: 20\n  to: inviter\n  reason: 转介绍"
    ),
    "checkin with bonus": playbook(do="- checkin: {points: 5, bonus: {7: 20, 30: 100}}"),
    "checkin with nothing, an option beside it": playbook(do="- checkin:\n  reason: 打卡"),
    "stop in three spellings": playbook(do="- stop:\n- stop: {all: true}\n- stop:\n  all: true"),
    "one action without a list": playbook(do="reply: hi"),
    "empty do": playbook(do="[]"),
    "nested choose": playbook(
        do="""
        - choose:
            - if: [{role: staff}]
              do:
                - choose:
                    - if: {tags: VIP}
                      do: [{reply: vip}]
            - if: []
              do: []
            - else:
                - reply: other
        """
    ),
    "choose without else": playbook(do="- choose:\n    - if: [{expr: 'true'}]\n      do: [reply: a]"),
    "message triggers": playbook(
        when="""
        - message: {text: 签到}
        - message: {text: [签到, 打卡], in: private}
        - message: {keywords: 地址}
          in: any
        - message: {regex: '^查(?P<what>积分)$'}
        """
    ),
    "a regex with a Python named group, the documented way to fill message.groups": playbook(
        when="- message: {regex: '^复述(?P<t>.+)$'}", do='- reply: "{{ message.groups.t }}"'
    ),
    "regexes only Python reads": playbook(
        when=r"""
        - message: {regex: '(?i)^vip(?P<n>\d+)$'}
        - message: {regex: '\A签到\Z'}
        - message: {regex: '(?P<w>\w)(?P=w)'}
        - message: {regex: '(?x) 查 \s* 积分  # 空格随意'}
        """
    ),
    "segment filters as docs/playbooks.md writes them": playbook(
        when="- schedule: {cron: '0 10 * * *'}",
        do="""
        - for_each:
            segment:
              lifecycle: 休眠期
              inactive_days: ">=14"
              joined_days: "<7"
              points: ">=100"
              tags: [VIP]
              not_nudged_days: 30
            holdout: 10%
            do: [{dm: 好久不见}]
        """,
    ),
    "segment comparisons in every spelling": playbook(
        when="- schedule: {every: 1d}",
        do="""
        - for_each:
            segment: {inactive_days: 14, joined_days: "= 3", points: " < -5 "}
            do: [{tag: 试}]
        - for_each:
            segment: {lifecycle: [dormant, 流失期], inactive_days: "==0", points: ">１００"}
            limit: 10
            holdout: 0.995
            do: [{tag: 试}]
        """,
    ),
    "command short and long": playbook(when="- command: 积分\n- command: {name: 积分, in: group}"),
    "join and leave with nothing": playbook(when="- join:\n- leave: {}"),
    "schedules": playbook(
        when="- schedule: {cron: '0 20 * * WED'}\n- schedule: {every: 1h}\n- schedule: {at: 2026-12-12 20:00}"
    ),
    "one trigger without a list": playbook(when="join: {}"),
    "conditions": playbook(
        if_="""
        - role: staff
        - role: [owner, admin]
        - tags: VIP
        - tags: {all: [VIP], none: [黑名单]}
        - time: {between: ["09:00", "22:00"], weekdays: [mon, fri]}
        - time: {weekdays: sat}
        - once: {per: day, scope: room}
        - once:
        - cooldown: 10m
        - cooldown: {span: 1h30m}
        - expr: "member.points >= 100"
        """
    ),
    "top-level options": playbook(
        head="name: 欢迎\ndescription: 2024\nenabled: false\nrooms: [会员福利1群, 'tag:vip', 123]\n"
    ),
    "rooms as one text": playbook(head="rooms: 会员福利1群\n"),
    "the primary option beside NAME": playbook(do="- reply:\n  text: hi\n- reply: {mention: true}\n  text: hi"),
    "numbers as pydantic reads them: quoted, padded, true for 1": playbook(
        do="- points: ' 5 '\n- points: {add: '1_000'}\n- checkin: {points: '5.0', bonus: {'7': '20'}}\n- points: true"
    ),
    "a tag, a keyword and a command that are numbers": playbook(
        when="- command: 618\n- message: {keywords: [618, 双11]}", do="- tag: 2024"
    ),
    "one coupon batch and one question without a list": playbook(
        head="coupons: {id: b1, title: 券, stock: 5}\nquestions: {bank: {q: 几点开门？, a: 9}}\n"
    ),
    "an empty coupon list": playbook(head="coupons: []\n"),
    "holdout as a share, a quoted share and false": playbook(
        when="- schedule: {every: 1d}",
        do="""
        - for_each: {segment: {lifecycle: new}, holdout: 0.995, do: [{tag: a}]}
        - for_each: {segment: {lifecycle: new}, holdout: "0.1", do: [{tag: a}]}
        - for_each: {segment: {lifecycle: new}, holdout: false, do: [{tag: a}]}
        """,
    ),
    "expr: true": playbook(if_="- expr: true"),
}

INVALID = {
    "unknown top-level key": playbook(head="foo: 1\n"),
    "'on' instead of 'when'": "id: t\non:\n  - join: {}\ndo:\n  - reply: hi\n",
    "unknown action": playbook(do="- pionts: 5"),
    "a misspelt action with options beside it": playbook(do="- replay: hi\n  mention: true"),
    "mention: yes is text, not a boolean": playbook(do="- reply: hi\n  mention: yes"),
    "mention: yes inside the mapping": playbook(do="- reply: {text: hi, mention: yes}"),
    "id with capitals": playbook().replace("id: t", "id: Welcome"),
    "id starting with '-'": playbook().replace("id: t", "id: -t"),
    "id as a number": playbook().replace("id: t", "id: 2024"),
    "no id": playbook().replace("id: t\n", ""),
    "no do": "id: t\nwhen:\n  - join: {}\n",
    "no when": "id: t\ndo:\n  - reply: hi\n",
    "empty when": "id: t\nwhen: []\ndo:\n  - reply: hi\n",
    "enabled: no": playbook(head="enabled: no\n"),
    "two actions in one item": playbook(do="- reply: hi\n  dm: hi"),
    "an option that is itself an action": playbook(do="- checkin: {}\n  points: 5"),
    "unknown option": playbook(do="- reply: hi\n  mentoin: true"),
    "unknown option in the mapping": playbook(do="- points: {add: 5, reson: x}"),
    "reply without text": playbook(do="- reply:"),
    "points that are not a number": playbook(do="- points: many"),
    "duration in words": playbook(if_="- cooldown: 10 minutes"),
    "wait as a bare number": playbook(do="- wait: 10"),
    "stop all: yes": playbook(do="- stop: {all: yes}"),
    "unknown role": playbook(if_="- role: guest"),
    "once per fortnight": playbook(if_="- once: {per: fortnight}"),
    "message with an unknown option": playbook(when="- message: {txt: 签到}"),
    "message in: everywhere": playbook(when="- message: {text: 签到, in: everywhere}"),
    "join with options": playbook(when="- join: {room: x}"),
    "join given a text": playbook(when="- join: yes"),
    "unknown trigger": playbook(when="- birthday: {}"),
    "a condition under do": playbook(do="- role: staff"),
    "choose with a key beside it": playbook(do="- choose: [{else: [reply: a]}]\n  reply: b"),
    "choose branch without do": playbook(do="- choose:\n    - if: [{role: staff}]"),
    "choose with a key beside else": playbook(do="- choose:\n    - else: [reply: a]\n      do: [reply: b]"),
    "choose with no branches": playbook(do="- choose: []"),
    "wait inside choose": playbook(do="- choose:\n    - if: [{role: staff}]\n      do: [{wait: 2s}, {reply: a}]"),
    "wait inside else": playbook(do="- choose:\n    - else: [{wait: 2s}]"),
    "the primary option twice": playbook(do="- reply: hi\n  text: hello"),
    "for_each without a segment": playbook(when="- schedule: {every: 1d}", do="- for_each: {do: [{tag: x}]}"),
    "a segment comparison in days": playbook(
        when="- schedule: {every: 1d}", do="- for_each: {segment: {inactive_days: 14天}, do: [{tag: x}]}"
    ),
    "a segment comparison in words": playbook(
        when="- schedule: {every: 1d}", do="- for_each: {segment: {inactive_days: 两周}, do: [{tag: x}]}"
    ),
    "a segment with an unknown filter": playbook(
        when="- schedule: {every: 1d}", do="- for_each: {segment: {inactive: '>=14'}, do: [{tag: x}]}"
    ),
}


# Values the loader takes but whose types (bot/playbook/types.py) tell JSON Schema less than they accept.
GAPS = {
    "a weekday in Chinese": playbook(if_="- time: {weekdays: [周一, Monday]}"),
    "a text that is a number": playbook(do="- reply: 123"),
    "a duration in capitals": playbook(do="- wait: 2S"),
}


@pytest.mark.parametrize("text", [*VALID.values(), *GAPS.values()], ids=[*VALID, *GAPS])
def test_forms_the_loader_accepts_validate(editor: Editor, text: str) -> None:
    assert loader_problems(text) == []
    assert editor.errors(text) == []


@pytest.mark.parametrize("text", INVALID.values(), ids=INVALID.keys())
def test_mistakes_the_loader_refuses_fail_validation(editor: Editor, text: str) -> None:
    assert loader_problems(text) != []
    assert editor.errors(text) != []


# -- (3) generated playbooks: whatever the loader accepts, the editor accepts

PAD = st.sampled_from(["", " ", "\u3000"])  # operators pad values (an ideographic space from a Chinese IME too)


def padded(*values: str) -> st.SearchStrategy[str]:
    return st.builds(lambda before, value, after: before + value + after, PAD, st.sampled_from(values), PAD)


DURATION = padded("30s", "10m", "2h", "1d", "1w", "1h30m", "90S", "2H", "１０m")
SHORT = padded("2s", "30s", "1m", "5M", "１０s")  # `wait` is at most 10m
TEXT = st.one_of(
    st.sampled_from(
        ["你好", "欢迎 {{ bot.name }}", "666", "yes", "no", "22:00", "2026-12-12", "1e3", "~", "#1", "@所有人"]
    ),
    st.integers(-(10**6), 10**6),
    st.sampled_from([0.5, 1e20, -2.0]),
)
NAME = st.sampled_from(["签到", "打卡", "VIP", "618", "新人", "on"])
WORD = st.one_of(NAME, st.integers(0, 9999))  # where a number counts as its digits
WORDS = st.one_of(WORD, st.lists(WORD, min_size=1, max_size=3))
NUMBER = st.one_of(st.integers(1, 500), padded("5", "+20", "1_000", "5.0"))  # pydantic reads "5" as 5
REGEX = st.sampled_from(
    [
        "^复述(?P<t>.+)$",
        "^查(?P<what>积分|券)$",
        r"(?P<w>\w)(?P=w)",
        r"\A签到\Z",
        r"(?i)^vip(\d+)$",
        r"(?x) 查 \s* 积分  # 空格随意",
        "(?#备注)^hi$",
        r"(?<=@)\S+",
        "(?s).+",
        "^[^?？]+[?？]$",
    ]
)
COMPARISON = st.one_of(
    st.integers(-5, 400),
    st.builds(
        lambda op, blank, number: f"{op}{blank}{number}",
        st.sampled_from(["", ">=", ">", "<=", "<", "==", "="]),
        PAD,
        padded("14", "0", "-1", "７", "１００"),
    ),
)
WEEKDAY = padded("mon", "Tue", "WEDNESDAY", "friday", "周一", "星期日", "礼拜天")
TIME = padded("09:00", "9:00", "22:00", "24:00", "00:00", "23:59", "０８:３０")


def options(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Some of the given options, each with one of its values."""
    return st.fixed_dictionaries({}, optional=fields)


@st.composite
def item(draw: st.DrawFn, name: str, kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """`- NAME: ...` in one of the forms builder.py reads: the primary option as NAME's value, the options as
    a mapping, or options beside NAME (never one that is itself an ability of the kind)."""
    registry = load_abilities()
    table = {"trigger": registry.triggers, "condition": registry.conditions, "action": registry.actions}[kind]
    primary = table[name].primary
    values = dict(values)
    shorthand = primary in values and not set(values) & set(table) and draw(st.booleans())
    head: Any = values.pop(primary) if shorthand else None
    inside: dict[str, Any] = {}
    beside: dict[str, Any] = {}
    for key, value in values.items():
        side = inside if head is None and (key in table or draw(st.booleans())) else beside
        side[key] = value
    if head is None:
        head = inside or draw(st.sampled_from([None, {}]))
    return {name: head, **beside}


def triggers(draw: st.DrawFn, *, timed: bool) -> list[dict[str, Any]]:
    if timed:
        schedule = st.one_of(
            st.fixed_dictionaries(
                {"cron": padded("0 20 * * WED", "*/15 9-18 * * 1-5", "0 0 1 * *", "0 8 * * sun,sat", "30 21 1-7 * 5")}
            ),
            st.fixed_dictionaries({"every": DURATION}),
            st.fixed_dictionaries({"at": padded("2026-12-12 20:00", "2026-12-12T20:00:05", "2027-01-01 00:00")}),
        )
        return [draw(item("schedule", "trigger", draw(schedule))) for _ in range(draw(st.integers(1, 2)))]
    where = {"in": st.sampled_from(["group", "private", "any"])}
    message = st.one_of(
        st.fixed_dictionaries({"text": WORDS}, optional=where),
        st.fixed_dictionaries({"keywords": WORDS}, optional=where),
        st.fixed_dictionaries({"regex": REGEX}, optional=where),
    )
    command = st.fixed_dictionaries({"name": st.sampled_from(["积分", "/查券", "／会员", "vip", 618])}, optional=where)
    found = [draw(item("message", "trigger", draw(message))) for _ in range(draw(st.integers(0, 2)))]
    found += [draw(item("command", "trigger", draw(command))) for _ in range(draw(st.integers(0, 1)))]
    found += [draw(item(name, "trigger", {})) for name in ("join", "leave", "friend") if draw(st.booleans())]
    return found or [{"join": None}]


def conditions(draw: st.DrawFn) -> list[dict[str, Any]]:
    roles = st.sampled_from(["owner", "admin", "staff", "member"])
    tags = st.one_of(
        st.fixed_dictionaries({"any": WORDS}),
        st.fixed_dictionaries({"all": WORDS}, optional={"none": WORDS, "any": WORDS}),
        st.fixed_dictionaries({"none": WORDS}),
    )
    pool = {
        "role": st.fixed_dictionaries({"roles": st.one_of(roles, st.lists(roles, min_size=1, max_size=3))}),
        "tags": tags,
        "time": options(between=st.lists(TIME, min_size=2, max_size=2), weekdays=st.one_of(WEEKDAY, st.lists(WEEKDAY))),
        "once": options(per=st.sampled_from(["day", "week", "ever"]), scope=st.sampled_from(["member", "room"])),
        "cooldown": st.fixed_dictionaries({"span": DURATION}),
        "expr": st.fixed_dictionaries({"expr": st.sampled_from(["now.hour >= 9", "true", True, False])}),
    }
    names = draw(st.lists(st.sampled_from(sorted(pool)), max_size=3))
    return [draw(item(name, "condition", draw(pool[name]))) for name in names]


SEGMENT = options(
    lifecycle=st.one_of(
        st.sampled_from(["new", "dormant", "休眠期", "流失期"]),
        st.lists(st.sampled_from(["growing", "active", "churned", "引入期", "成熟期"]), min_size=1),
    ),
    inactive_days=COMPARISON,
    joined_days=COMPARISON,
    points=COMPARISON,
    tags=st.one_of(NAME, st.lists(WORD, min_size=1, max_size=3)),
    not_nudged_days=st.one_of(st.integers(1, 90), padded("30")),
    rooms=st.one_of(st.just("会员福利1群"), st.lists(st.sampled_from(["会员福利1群", "tag:vip"]), min_size=1)),
).map(lambda segment: segment or {"lifecycle": "dormant"})  # a segment needs a filter
HOLDOUT = st.one_of(
    padded("10%", "5 %", "0.5%", "0.25"), st.sampled_from([0, 0.1, 0.995, False])
)  # a percentage or a share


def actions(draw: st.DrawFn, *, member: bool, depth: int = 0) -> list[dict[str, Any]]:
    """A `do` list (nested below depth 0); `member` says whether the run has one (a schedule's run has
    none outside `for_each`)."""
    pool: dict[str, st.SearchStrategy[dict[str, Any]]] = {
        "say": st.fixed_dictionaries({"text": TEXT}, optional={"expires": DURATION, "room": st.just("会员福利1群")}),
        "stop": options(all=st.booleans()),
    }
    if depth == 0:
        pool["wait"] = st.fixed_dictionaries({"span": SHORT})
    if member:
        pool |= {
            "reply": st.fixed_dictionaries({"text": TEXT}, optional={"expires": DURATION, "mention": st.booleans()}),
            "dm": st.fixed_dictionaries({"text": TEXT}, optional={"expires": DURATION}),
            "points": st.fixed_dictionaries(
                {"add": NUMBER}, optional={"reason": st.just("活动"), "allow_negative": st.booleans()}
            ),
            "tag": st.fixed_dictionaries({"name": WORD}),
            "untag": st.fixed_dictionaries({"name": WORD}),
            "invite": st.fixed_dictionaries({"room": st.just("会员福利1群")}),
            "checkin": options(
                points=NUMBER,
                bonus=st.dictionaries(st.one_of(st.integers(1, 60), st.just("30")), NUMBER, max_size=2),
                reason=st.just("打卡"),
            ),
            "coupon": st.fixed_dictionaries({"batch": st.just("b1")}),
            "claim": st.fixed_dictionaries({"batch": st.just("b1")}, optional={"keyword": NAME, "window": DURATION}),
            "quiz": st.fixed_dictionaries(
                {"questions": st.just("bank")},
                optional={
                    "pick": st.sampled_from(["random", "next"]),
                    "window": DURATION,
                    "winners": st.integers(1, 100),
                    "reward": options(points=NUMBER, coupon=st.just("b1")),
                },
            ),
        }
    names = draw(st.lists(st.sampled_from(sorted(pool)), max_size=3))
    steps = [draw(item(name, "action", draw(pool[name]))) for name in names]
    if depth < 2 and draw(st.booleans()):
        branches: list[dict[str, Any]] = [
            {"if": conditions(draw), "do": actions(draw, member=member, depth=depth + 1)}
            for _ in range(draw(st.integers(1, 2)))
        ]
        if draw(st.booleans()):
            branches.append({"else": actions(draw, member=member, depth=depth + 1)})
        steps.append({"choose": branches})
    if depth < 2 and draw(st.booleans()):
        each = {
            "segment": draw(SEGMENT),
            "do": actions(draw, member=True, depth=depth + 1),
            **draw(options(holdout=HOLDOUT)),
        }
        steps.append(draw(item("for_each", "action", each)))
    return steps


@st.composite
def valid_playbooks(draw: st.DrawFn) -> str:
    """A playbook built from documented parts, in the spellings operators use: numbers where text is meant,
    padded values, full-width digits, Chinese weekdays and stages, Python regexes, one item without a list."""
    timed = draw(st.booleans())
    data: dict[str, Any] = {"id": draw(st.sampled_from(["generated", "a", "0-x", "vip-2024"]))}
    data |= draw(
        options(
            name=TEXT,
            description=TEXT,
            enabled=st.booleans(),
            rooms=st.one_of(st.just("会员福利1群"), st.lists(st.one_of(WORD, st.just("tag:vip")))),
        )
    )
    when = triggers(draw, timed=timed)
    data["when"] = when[0] if len(when) == 1 and draw(st.booleans()) else when
    if draw(st.booleans()):
        data["if"] = conditions(draw)
    steps = actions(draw, member=not timed)
    data["do"] = steps[0] if len(steps) == 1 and draw(st.booleans()) else steps
    batch = {"id": "b1", "title": "券", "stock": draw(NUMBER)}
    batch |= draw(options(per_member=st.just(1), valid_for=DURATION, code_prefix=st.just("WK")))
    data["coupons"] = batch if draw(st.booleans()) else [batch]
    answers = st.one_of(WORD, st.lists(WORD, min_size=1, max_size=3))
    question = st.fixed_dictionaries({"q": st.just("本店招牌菜？"), "a": answers})
    data["questions"] = {"bank": draw(st.one_of(question, st.lists(question, min_size=1, max_size=2)))}
    style = draw(st.sampled_from([False, True, None]))
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=style)


ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, 1e20, float("nan"), float("-inf")]),
    st.sampled_from(["", " 5 ", "1_000", "5.0", "1e3", "0x1F", "١٤", "１４", "true", "yes", "~", "a\n", "\u3000"]),
    st.sampled_from(["10m", "１０m", ">=1", "周一", "09:00", "24:00", "inf", "nan", "🙂", b"hi"]),
    st.text(max_size=4),
)


@st.composite
def odd_values(draw: st.DrawFn) -> str:
    """A generated playbook with a value or two replaced by an odd one (most no longer load)."""
    data = yaml.safe_load(draw(valid_playbooks()))
    for _ in range(draw(st.integers(1, 2))):
        parent, key = draw(st.sampled_from([s for s in _spots(data) if not isinstance(s[0][s[1]], (dict, list))]))
        parent[key] = draw(ODD)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=draw(st.booleans()))


EDITOR_FUZZ = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@EDITOR_FUZZ
@given(valid_playbooks())
@pytest.mark.slow
def test_generated_playbooks_that_load_validate(editor: Editor, text: str) -> None:
    assume(loader_problems(text) == [] and read_alike(editor, text))
    assert editor.errors(text) == [], text


@settings(
    EDITOR_FUZZ,
    max_examples=60,
    suppress_health_check=[*EDITOR_FUZZ.suppress_health_check, HealthCheck.filter_too_much],
)
@given(st.one_of(odd_values(), generated_yaml(), mutated_yaml()))
@pytest.mark.slow
def test_fuzzed_playbooks_that_load_validate(editor: Editor, text: str) -> None:
    """Odd values in generated playbooks, and the reliability suite's generated and mutated playbooks: those
    the loader takes (and editors read alike), the editor takes."""
    assume(loader_problems(text) == [] and read_alike(editor, text))
    assert editor.errors(text) == [], text


# -- (4) the schema itself


def test_schema_is_draft7_json_and_names_every_ability() -> None:
    registry = load_abilities()
    schema = json_schema(registry)
    Draft7Validator.check_schema(schema)
    assert json.loads(json.dumps(schema, ensure_ascii=False)) == schema
    defs = schema["definitions"]

    def names(kind: str) -> set[str]:
        refs = [r["$ref"].removeprefix("#/definitions/") for r in defs[kind]["oneOf"]]
        return {defs[ref]["required"][0] for ref in refs}

    assert names("action") == set(registry.actions) | {"choose"}
    assert names("condition") == set(registry.conditions)
    assert names("trigger") == set(registry.triggers)
    assert set(schema["properties"]) == {*TOP_KEYS, *load_abilities().resources}
    assert schema["additionalProperties"] is False
    for name, spec in registry.actions.items():
        if spec.func is not None and spec.func.__doc__:
            assert defs[f"action.{name}"]["description"] == spec.summary


def test_patterns_read_digits_and_blanks_as_the_loader_does() -> None:
    """ECMA-262's \\d, which editors run, is only 0-9 and its \\s lacks a few of Python's blanks: the schema's
    patterns spell out every digit Python's \\d and int() read (１４ from a Chinese IME) and every blank
    str.strip() removes."""
    bmp = [chr(c) for c in range(0x10000) if not 0xD800 <= c < 0xE000]
    assert [c for c in bmp if bool(re.fullmatch(DIGIT, c)) != c.isdecimal()] == []
    assert [c for c in bmp if c.isspace() and not re.fullmatch(BLANK, c)] == []


def test_default_registry_is_loaded() -> None:
    assert json_schema() == json_schema(load_abilities())


# -- abilities a later handler may bring: nested models, aliases, tuples


class Empty(Params):
    pass


class Reward(Params):
    points: int = 0
    coupon: str | None = None


class QuizParams(Params):
    """Ask a question; the first right answers win `reward`."""

    bank: str
    reward: Reward = Reward()
    window: Duration = Field("10m", validate_default=True)
    pick: Literal["random", "next"] = Field("random", alias="mode")
    score: tuple[int, int] = (0, 0)


class NoteParams(Params):
    text: TextField
    pinned: bool


async def _quiz(ctx: Any, params: BaseModel) -> None:
    """Ask a question."""


async def _note(ctx: Any, params: BaseModel) -> None:
    return None


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory, network_attempts: list[str]) -> Editor:
    registry = Registry()
    registry.add(Spec("trigger", "join", Empty, None, None))
    registry.add(Spec("action", "quiz", QuizParams, "bank", _quiz))
    registry.add(Spec("action", "note", NoteParams, None, _note))
    schema = json_schema(registry)
    Draft7Validator.check_schema(schema)
    assert "action.quiz.Reward" in schema["definitions"]
    assert schema["definitions"]["action.quiz"]["description"] == "Ask a question."
    assert "description" not in schema["definitions"]["action.note"]  # not Params' docstring
    return Editor(schema, tmp_path_factory.mktemp("custom"), network_attempts)


@pytest.mark.parametrize(
    "do",
    [
        "- quiz: dishes",
        "- quiz: dishes\n  reward: {points: 5}\n  mode: next",
        "- quiz: {bank: dishes, window: 30m, score: [1, 2], reward: {coupon: c1}}",
        "- note: {text: hi, pinned: true}",
        "- note:\n  text: hi\n  pinned: false",
        "- note: {text: hi}\n  pinned: true",
    ],
)
def test_a_registry_with_nested_models_and_aliases_accepts(custom: Editor, do: str) -> None:
    assert custom.errors(playbook(do=do)) == []


@pytest.mark.parametrize(
    "do",
    [
        "- quiz: {bank: dishes, reward: {pionts: 5}}",
        "- quiz: {bank: dishes, pick: next}",
        "- quiz: {bank: dishes, score: [1, two]}",
        "- quiz: {bank: dishes, window: soon}",
        "- quiz: {reward: {points: 5}}",
        "- note: hi",
        "- reply: hi",
    ],
)
def test_a_registry_with_nested_models_and_aliases_refuses(custom: Editor, do: str) -> None:
    assert custom.errors(playbook(do=do)) != []


def test_the_committed_schema_file_is_current() -> None:
    """Shipped playbooks point editors at qunguan.schema.json; regenerate with `qunguan schema -o ...`."""
    committed = json.loads((ROOT / "qunguan.schema.json").read_text("utf-8"))
    assert committed == json.loads(json.dumps(json_schema(), ensure_ascii=False))
