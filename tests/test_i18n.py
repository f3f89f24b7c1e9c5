"""Problem texts in the operator's language: Chinese by default, English with `language: en`.

Loaders and validators write English (logs stay English); the CLI and /重载 translate through the catalog
in bot/i18n/. The test that guards the catalog gathers every message the error tests, the fuzzers and the
cases below produce, and requires a Chinese form for each with no English sentence left in it: a new message
without a translation fails here, naming it.
"""

from __future__ import annotations

import ast
import itertools
import re
import string
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_check_warnings as warning_cases
import test_playbook_errors as error_cases
from hypothesis import given
from reliability import test_fuzz_playbooks as fuzz
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Config, StaffSection, load_config
from bot.i18n import Catalog, chinese, translate, translate_line
from bot.i18n.patterns import Pattern
from bot.i18n.zh_cn import AREAS, CATALOG, TERMS
from bot.playbook.errors import Problems, ProblemsError
from bot.playbook.library import load_texts
from bot.playbook.loader import read_yaml
from bot.scenario import parse_scenario
from bot.testing import TestBot

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
P = "playbooks/p.yaml"

# Words that stay as they are in a Chinese text: names of things, not English sentences.
KEPT = re.compile(r"\b(?:YAML|UTF-8|IANA|Jinja|Python|PyYAML|cron|qunguan (?:check|test|reload|run))\b")
# A quoted value may hold a mapping with quotes of its own: '{'AA AA': None}' is one quoted value.
QUOTED = re.compile(r"'(?:\{[^}\n]*\}|[^'\n])*'|\"[^\"\n]*\"|`[^`\n]*`|「[^」\n]*」|\{[^}\n]*\}|\[[^\]\n]*\]")
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[,;:.!?)]*\s+\(?[A-Za-z]{2,})+")
LOCATION = re.compile(r"^.*?:\d+:\d+: ")


def english_left(text: str) -> list[str]:
    """English phrases (two words or more) outside quotes: what a Chinese reader would still have to decode."""
    body = KEPT.sub("", QUOTED.sub("", LOCATION.sub("", text)))
    return ENGLISH.findall(body)


# Playbooks that reach every validator of every ability, beside the ones test_playbook_errors has.
ABILITIES = {
    "template-with-a-lone-quote": """
        id: t
        when: [{join: {}}]
        do: [{say: "{{ ' }}"}]
        """,
    "coupon-prefix-and-two-expiries": """
        id: t
        when: [{join: {}}]
        do: [{reply: hi}]
        coupons:
          - {id: a, title: 券, stock: 5, code_prefix: wk}
          - {id: b, title: 券, stock: 5, valid_for: 7d, expires: "2026-12-12 20:00"}
          - {id: C, title: 券, stock: 0, per_member: x}
        """,
    "segment-filters": """
        id: t
        when: [{schedule: {every: 1d}}]
        do:
          - for_each: {segment: {inactive_days: "about 14"}, do: [{dm: hi}]}
          - for_each: {segment: {points: [1]}, do: [{dm: hi}]}
          - for_each: {segment: {}, do: [{dm: hi}]}
          - for_each: {segment: {lifecycle: sleepy}, limit: 0, holdout: 100%, do: [{dm: hi}]}
        """,
    "tags-checkin-time-wait": """
        id: t
        when: [{message: {text: x}}]
        if:
          - tags: {}
          - time: {between: ["09:00"]}
        do:
          - checkin: {points: 5, bonus: {0: 20}}
          - wait: 1d
          - points: {add: 5, to: nobody}
        """,
    "triggers": """
        id: t
        when:
          - message: {}
          - message: {text: " "}
          - command: 查 积分
          - schedule: {}
          - schedule: {at: tomorrow}
          - schedule: {every: 0s}
        do: [{reply: hi}]
        """,
    "quiz-claim-invite": """
        id: t
        when: [{message: {text: x}}]
        do:
          - quiz: {questions: bank, pick: first, winners: 0, reward: {points: -1, coupon: nope}}
          - claim: {batch: nope}
          - invite: {}
          - say: {text: hi, room: 3}
          - stop: {all: maybe}
          - reply: {text: hi, mention: 1}
        questions:
          bank: [{q: 招牌菜？, a: []}]
        """,
    "templates": """
        id: t
        when: [{message: {text: x}}]
        if: [{expr: "member.points >= 100 100"}]
        do:
          - reply: "{% if member.name %}hi"
          - reply: "{{ member.name }"
          - reply: "{% for x in %}{% endfor %}"
          - reply: "{# note"
          - reply: "{% hello %}"
          - reply: "{{ member..name }}"
        """,
    "yaml-oddities": "id: t\nwhen: [{join: {}}]\ndo: [{reply: !!binary '*'}]\nx: !!python/name:os.system ''\n",
    "rooms-and-commands": """
        id: t
        rooms: [{topic: 群}]
        when: [{command: 帮助}]
        do: [{reply: hi}]
        """,
    "announcement-too-long": "id: t\nwhen: [{command: 群规}]\ndo: [{announce: %s}]\n" % ("规" * 2001),
}

SCENARIOS = {
    "header": "name: 场景\nstart: tomorrow\ngovernor: yes\nrooms: [{topic: 群}]\nsteps: []\n",
    "steps": textwrap.dedent("""
        name: 场景
        rooms: [{id: r1}]
        members: [{id: u1, role: boss}]
        steps:
          - say: {member: u9, room: r9, text: hi, mentions: [u8]}
          - join: {member: u1, room: r1, by: u7}
          - advance: 1 day
          - expect: {to: r1, regex: "("}
          - check: {member: u1, pionts: 5}
          - check: {member: u1}
          - shout: {member: u1}
          - say: hi
          - [say]
        """),
    "not-a-mapping": "- say: hi\n",
}

CONFIGS = {
    "values": textwrap.dedent("""
        timezone: Mars/Olympus
        staf: {owner: [x]}
        language: fr
        rooms: [{tags: [vip]}]
        lifecycle: {new_days: 0}
        sending: {gap: soon, quiet_hours: {start: "25:00"}}
        connector: telegram
        """),
    "not-a-mapping": "- timezone: Asia/Shanghai\n",
}


def problems_of_playbooks() -> list[str]:
    out: list[str] = []
    for case in error_cases.CASES:
        text, _expected = case.values
        out += [p.message for p in load_texts({P: text}, room_tags=error_cases.ROOM_TAGS).problems]
    for text in [*ABILITIES.values(), *fuzz.NASTY.values()]:
        out += [p.message for p in load_texts({P: textwrap.dedent(text)}, room_tags={"vip"}).problems]
    return out


def problems_of_files(tmp_path: Path) -> list[str]:
    out: list[str] = []
    for name, text in SCENARIOS.items():
        problems = Problems()
        (tmp_path / f"{name}.yaml").write_text(text, "utf-8")
        parse_scenario(tmp_path / f"{name}.yaml", f"{name}.yaml", problems)
        out += [p.message for p in problems.sorted()]
    for name, text in CONFIGS.items():
        (tmp_path / f"{name}-config.yaml").write_text(text, "utf-8")
        with pytest.raises(ProblemsError) as caught:
            load_config(str(tmp_path / f"{name}-config.yaml"))
        out += [p.message for p in caught.value.problems]
    with pytest.raises(ProblemsError) as caught:
        load_config(str(tmp_path / "missing.yaml"))
    out += [p.message for p in caught.value.problems]
    huge = tmp_path / "huge.yaml"
    with huge.open("w") as fh:
        fh.truncate(5 * 1024 * 1024)
    problems = Problems()
    read_yaml(str(huge), "huge.yaml", problems)
    return out + [p.message for p in problems.sorted()]


def untranslated(messages: list[str]) -> list[str]:
    """Each message without a Chinese form, or whose Chinese form still has English in it."""
    bad = []
    for message in dict.fromkeys(messages):
        said = chinese(message)
        if said is None:
            bad.append(f"no Chinese for: {message!r}")
        elif english_left(said):
            bad.append(f"English left in {said!r} ({english_left(said)}), for {message!r}")
    return bad


def test_every_problem_of_the_error_tests_abilities_scenarios_and_configs_reads_in_chinese(tmp_path: Path) -> None:
    messages = problems_of_playbooks() + problems_of_files(tmp_path)
    assert len(set(messages)) > 100, "the gathering lost its cases"
    assert untranslated(messages) == []


def test_every_warning_reads_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "a.yaml": warning_cases.playbook("a", "message: {keywords: [签到]}", do="[{reply: hi}, {stop: {all: true}}]"),
        "b.yaml": warning_cases.playbook("b", "message: {keywords: [签到]}", rooms="rooms: [会员福利3群]\n"),
        "c.yaml": warning_cases.playbook("c", "message: {text: 请签到}"),
        "d.yaml": warning_cases.playbook("d", "command: 签到"),
        "e.yaml": warning_cases.playbook("e", "command: 签到"),
        "nudge.yaml": warning_cases.REACTIVATION,
    }
    result = warning_cases.load(tmp_path, monkeypatch, files)
    messages = [w.text for w in result.warnings]
    assert len(messages) >= 5, messages
    assert untranslated(messages) == []


@fuzz.FUZZ  # as many examples as the fuzzers run
@given(fuzz.generated_yaml())
@pytest.mark.slow
def test_every_problem_of_generated_playbooks_reads_in_chinese(text: str) -> None:
    assert untranslated([p.message for p in load_texts({P: text}).problems]) == []


@fuzz.FUZZ
@given(fuzz.mutated_yaml())
@pytest.mark.slow
def test_every_problem_of_mutated_shipped_playbooks_reads_in_chinese(text: str) -> None:
    assert untranslated([p.message for p in load_texts({P: text}).problems]) == []


def test_the_catalog_itself_has_no_english_sentence_in_a_translation() -> None:
    """Placeholders and quoted names aside, every translation is Chinese (also the ones no test reaches)."""
    placeholder = re.compile(r"\{[a-z_]+\}")
    bad = {k: v for k, v in {**CATALOG, **TERMS}.items() if english_left(placeholder.sub("", v))}
    assert bad == {}


def test_every_catalog_entry_is_well_formed_and_in_one_area_only() -> None:
    """Placeholders parse, a translation uses only the placeholders its pattern has, no key is written twice."""
    for english, said in CATALOG.items():
        Pattern.parse(english, said)
    keys = [key for area in AREAS for key in [*area.MESSAGES, *getattr(area, "TERMS", {})]]
    assert len(keys) == len(set(keys)), sorted(k for k in set(keys) if keys.count(k) > 1)


def test_a_message_the_catalog_does_not_know_is_shown_as_it_is() -> None:
    """Never lost, never a crash: an unknown text reaches the operator in English."""
    assert translate("a brand-new message about 'x'", "zh-CN") == "a brand-new message about 'x'"
    assert chinese("a brand-new message about 'x'") is None


def test_a_value_full_of_the_catalogs_own_separators_is_shown_as_it_is_instead_of_read_forever() -> None:
    """A key of 300 "' " and 50 "; got " could be split in more ways than there is time: English, at once."""
    value = "' " * 300 + "; got " * 50
    message = f"'x' {value}zz"
    assert translate(message, "zh-CN") == message
    assert translate(f"'reply' must be text; got '{value}'", "zh-CN").startswith("'reply' 必须是文本；现在是 '")


def test_nested_messages_and_locations_are_translated_whole() -> None:
    line = f"{P}:5:5: unknown action 'chekin' (did you mean 'checkin'?)"
    assert translate_line(line, "zh-CN") == f"{P}:5:5: 未知的动作 'chekin'（是不是 'checkin'？）"
    assert translate_line(line, "en") == line


# -- the CLI in each language


@pytest.fixture
def broken_shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "p.yaml").write_text("id: p\nwhen:\n  - join: {}\ndo:\n  - pionts: 5\n  - wait: 1h\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_check_speaks_chinese_by_default(broken_shop: Path) -> None:
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "playbooks/p.yaml:5:5: 未知的动作 'pionts'（是不是 'points'？）",
        "playbooks/p.yaml:6:11: 'wait' 只用于不超过 10m 的短暂停顿；之后的跟进请用 'schedule'",
        "playbooks 里有 2 个问题",
    ]


def test_check_speaks_english_with_language_en(broken_shop: Path) -> None:
    (broken_shop / "config.yaml").write_text("language: en\n", "utf-8")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "playbooks/p.yaml:5:5: unknown action 'pionts' (did you mean 'points'?)",
        "playbooks/p.yaml:6:11: 'wait' is for short pauses of at most 10m; use a 'schedule' for later follow-ups",
        "2 problem(s) in playbooks",
    ]


def test_config_errors_speak_the_language_the_broken_config_asks_for(broken_shop: Path) -> None:
    (broken_shop / "config.yaml").write_text("timezone: Mars/Olympus\n", "utf-8")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "config.yaml:1:11: 'timezone' 必须是 IANA 时区，如 Asia/Shanghai；现在是 'Mars/Olympus'"
    ]
    (broken_shop / "config.yaml").write_text("language: en\ntimezone: Mars/Olympus\n", "utf-8")
    result = runner.invoke(app, ["check"])
    assert result.output.splitlines() == [
        "config.yaml:2:11: 'timezone' must be an IANA zone like Asia/Shanghai; got 'Mars/Olympus'"
    ]


def test_test_refuses_broken_playbooks_in_chinese(broken_shop: Path) -> None:
    result = runner.invoke(app, ["test"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[-1] == "playbooks 里有 2 个问题：先改好再测试"
    assert [line for line in lines if english_left(line)] == []


def test_run_prints_start_up_problems_in_chinese(broken_shop: Path) -> None:
    result = runner.invoke(app, ["run"], input="")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "playbooks/p.yaml:5:5: 未知的动作 'pionts'（是不是 'points'？）" in lines
    assert "playbooks/p.yaml：有错误，也没有旧版本，没有运行" in lines
    assert "已加载：0 个剧本在运行，1 个文件有错误" in lines


# -- messages no test produces yet: every literal message in the code must be readable by the catalog

# Where problems are written: `problems.add(where, MESSAGE)` / `self.error(path, MESSAGE)`, the CLI's
# `say(MESSAGE)`, validators' `PydanticCustomError(kind, TEMPLATE)` and `ValueError(MESSAGE)`.
SOURCES = [
    *ROOT.glob("bot/playbook/*.py"),
    *(ROOT / "bot" / name for name in ("config.py", "scenario.py", "triggers.py", "conditions.py", "flow.py")),
    *ROOT.glob("bot/cli*.py"),  # the `qunguan` command and what its commands share
    *ROOT.glob("bot/*_cli.py"),  # its other commands
    *ROOT.glob("handlers/*.py"),
]
VALIDATORS = {"types.py", "conditions.py", "flow.py", "config.py", "triggers.py"}  # and every handler
HOLE = "\x00"  # stands for a value the code fills in
# Messages whose hole holds words, not a value: each wording has its own catalog entry, and the cases above
# produce every one of them.
COMPOSED = {"'{…}' is not in this scenario's {…}"}  # members / rooms


class Probe(Catalog):
    """The catalog, with a hole accepted wherever a value goes."""

    def read(self, text: str, reading: Any) -> str | None:
        return text if set(text) <= {HOLE} else super().read(text, reading)

    def term(self, text: str) -> str | None:
        return text if set(text) <= {HOLE} else super().term(text)


def _parts(node: ast.expr, *, template: bool = False) -> list[str | None] | None:
    """Literal text and holes of a str, an f-string or (`template`) a str.format template."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and not template:
        return [node.value]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        parts: list[str | None] = []
        for literal, name, _spec, _conv in string.Formatter().parse(node.value):
            parts += [literal] if name is None else [literal, None]
        return parts
    if isinstance(node, ast.JoinedStr):
        return [v.value if isinstance(v, ast.Constant) else None for v in node.values]
    return None


def _written_messages() -> Iterator[tuple[str, list[str | None], bool]]:
    """(where, parts, named) for each message in the code; `named`: validate.py puts "'field' " before it."""
    for file in SOURCES:
        validators = file.name in VALIDATORS or file.parent.name == "handlers"
        for node in ast.walk(ast.parse(file.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", "")
            args = node.args
            if name in ("add", "error") and len(args) >= 2:
                found, named = _parts(args[1]), False
            elif name == "say" and args:
                found, named = _parts(args[0]), False
            elif name == "PydanticCustomError" and len(args) >= 2:
                found, named = _parts(args[1], template=True), True
            elif name == "ValueError" and args and validators:
                found, named = _parts(args[0]), True
            else:
                continue
            if found is not None:
                yield f"{file.relative_to(ROOT)}:{node.lineno}", found, named


def test_every_message_written_in_the_code_has_a_chinese_form() -> None:
    """Also the ones no test produces: each literal message, its values left open, must match a catalog entry."""
    probe = Probe(CATALOG, TERMS)
    missing = []
    for where, parts, named in _written_messages():
        holes = parts.count(None)
        readable = False
        for fill in itertools.product([HOLE, f"'{HOLE}'"], repeat=holes):
            values = iter(fill)
            text = "".join(p if p is not None else next(values) for p in parts)
            if named and not text.startswith("'"):
                text = f"'{HOLE}' {text}"
            if probe.translate(text) is not None:
                readable = True
                break
        skeleton = "".join(p if p is not None else "{…}" for p in parts)
        if not readable and skeleton not in COMPOSED:
            missing.append(f"{where}: {skeleton!r}")
    assert missing == []


@pytest.mark.parametrize(
    ("written", "first_line"),
    [
        ("中文", "playbooks/p.yaml:5:5: 未知的动作 'pionts'（是不是 'points'？）"),
        ("zh", "playbooks/p.yaml:5:5: 未知的动作 'pionts'（是不是 'points'？）"),
        ("English", "playbooks/p.yaml:5:5: unknown action 'pionts' (did you mean 'points'?)"),
        ("英文", "playbooks/p.yaml:5:5: unknown action 'pionts' (did you mean 'points'?)"),
    ],
)
def test_a_language_may_be_written_the_way_a_shop_owner_says_it(
    broken_shop: Path, written: str, first_line: str
) -> None:
    (broken_shop / "config.yaml").write_text(f"language: {written}\n", "utf-8")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0] == first_line


def test_a_language_the_bot_does_not_speak_is_a_config_error_naming_the_choices(broken_shop: Path) -> None:
    (broken_shop / "config.yaml").write_text("language: fr\n", "utf-8")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 2
    assert result.output.splitlines() == ["config.yaml:1:11: 'language' 必须是 'zh-CN' 或 'en' 之一；现在是 'fr'"]


async def test_reload_in_chat_lists_the_problems_in_chinese_or_english(tmp_path: Path) -> None:
    """Staff used to read English problems inside a Chinese reply."""
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "a.yaml").write_text("id: a\nwhen: [{join: {}}]\ndo: [{reply: hi}]\n", "utf-8")
    b = folder / "b.yaml"
    for language, left_out, said in [
        ("zh-CN", f"{b}：有错误，也没有旧版本，没有运行", "未知的动作 'repyl'（是不是 'reply'？）"),
        ("en", f"{b}: has errors and no last good version: left out", "unknown action 'repyl' (did you mean 'reply'?)"),
    ]:
        config = Config(staff=StaffSection(admin=["mgr"]), language=language)
        async with TestBot.running(folder, config=config) as bot:
            b.write_text("id: b\nwhen: [{join: {}}]\ndo: [{repyl: hi}]\n", "utf-8")
            (answer,) = await bot.say("mgr", "/重载")
            b.unlink()
        assert answer.text.splitlines() == [
            "已重载：1 个剧本在运行",
            f"❌ {left_out}",
            "1 处错误（改好后再发送 /重载）：",
            f"{b}:3:7: {said}",
        ]
