"""config.yaml sections that abilities declare (`@config_section`, bot/registry.py): read and checked like the
machinery's own settings, their problems at path:line:col in the operator's language, their defaults and the
shape of the whole config unchanged; `qunguan check` checks them without starting the bot."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from textwrap import dedent
from zoneinfo import ZoneInfo

import pytest
from pydantic import Field
from typer.testing import CliRunner

from bot.cli import app
from bot.config import Config, load_config
from bot.i18n import problem_text
from bot.playbook.errors import ProblemsError
from bot.playbook.types import Duration, Params
from bot.registry import REGISTRY, RegistrationError, config_section
from bot.testing import TestBot
from handlers.segments import LifecycleSection

START = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DEFAULTS = {"new_days": 7, "active_days": 30, "dormant_days": 14, "churned_days": 60}


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, type]:
    """The config sections, for a test that declares its own: put back afterwards."""
    sections = dict(REGISTRY.config_sections)
    monkeypatch.setattr(REGISTRY, "config_sections", sections)
    return sections


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "config.yaml"
    path.write_text(dedent(text), "utf-8")
    with pytest.raises(ProblemsError) as raised:
        load_config(str(path))
    return [str(p).removeprefix(f"{path}:") for p in raised.value.problems]


def test_an_abilitys_section_is_read_from_config_yaml_with_the_defaults_for_what_it_leaves_out(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("lifecycle: {new_days: 3}\nbot: {name: 小助手}\n", "utf-8")
    config, _ = load_config(str(tmp_path / "config.yaml"))
    assert config.section(LifecycleSection) == LifecycleSection(new_days=3)
    assert config.bot.name == "小助手"
    assert Config().section(LifecycleSection) == LifecycleSection()
    assert Config(lifecycle=LifecycleSection(dormant_days=9)).section(LifecycleSection).dormant_days == 9


def test_the_whole_config_keeps_its_shape_with_the_abilities_sections_in_it(tmp_path: Path) -> None:
    dumped = Config().model_dump(mode="json")
    assert dumped["lifecycle"] == DEFAULTS
    assert {"bot", "sending", "opt_out", "friends", "reload", "staff", "rooms", "dm_fallback"} <= set(dumped)
    (tmp_path / "config.yaml").write_text("lifecycle: {churned_days: 90}\n", "utf-8")
    config, _ = load_config(str(tmp_path / "config.yaml"))
    assert config.model_dump(exclude_unset=True) == {"lifecycle": {"churned_days": 90}}
    assert config.model_dump(exclude_defaults=True) == {"lifecycle": {"churned_days": 90}}
    assert Config().model_dump(exclude_defaults=True) == {}
    assert set(config.model_dump(include={"lifecycle", "bot"})) == {"lifecycle", "bot"}
    assert "lifecycle" not in config.model_dump(exclude={"lifecycle"})
    again = Config.model_validate(config.model_dump())  # how `qunguan test` gives a scenario the operator's config
    assert again.section(LifecycleSection).churned_days == 90
    assert again == config.with_base(Path.cwd())


def test_problems_in_an_abilitys_section_are_located_and_reported_with_the_machinerys(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """\
        timezone: Mars/Olympus
        lifecycle: {new_days: 0, active_day: 3}
        lifecylce: {}
        """,
    ) == [
        "1:11: 'timezone' must be an IANA zone like Asia/Shanghai; got 'Mars/Olympus'",
        "2:23: 'new_days' must be >= 1; got '0'",
        "2:26: unknown key 'active_day' in 'lifecycle' (did you mean 'active_days'?)",
        "3:1: unknown key 'lifecylce' in 'config' (did you mean 'lifecycle'?)",
    ]
    assert problems(tmp_path, "lifecycle: {zzz: 1}\n") == [
        "1:13: unknown key 'zzz' in 'lifecycle'; 'lifecycle' takes new_days, active_days, dormant_days, churned_days"
    ]
    assert problems(tmp_path, "lifecycle: 5\n") == ["1:12: 'lifecycle' must be a mapping of options; got '5'"]


def test_problems_in_an_abilitys_section_are_told_in_chinese(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("language: 中文\nlifecycle: {new_days: -1, new_day: 2}\n", "utf-8")
    with pytest.raises(ProblemsError) as raised:
        load_config(str(path))
    assert [problem_text(p, "zh-CN") for p in raised.value.problems] == [
        f"{path}:2:23: 'new_days' 必须 >= 1；现在是 '-1'",
        f"{path}:2:27: 'lifecycle' 里有未知的键 'new_day'（是不是 'new_days'？）",
    ]


async def test_qunguan_check_reports_a_problem_in_an_abilitys_section(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("lifecycle: {dormant_days: soon}\n", "utf-8")
    (tmp_path / "playbooks").mkdir()
    command = ["check", str(tmp_path / "playbooks"), "--config", str(tmp_path / "config.yaml")]
    result = await asyncio.to_thread(CliRunner().invoke, app, command)
    assert result.exit_code == 2
    assert f"{tmp_path / 'config.yaml'}:1:27: 'dormant_days' 必须是整数；现在是 'soon'" in result.output


async def test_the_ability_runs_on_the_section_config_yaml_gave(tmp_path: Path) -> None:
    """member.lifecycle: new for `new_days`, then growing (the default would keep a 4-day member new)."""
    (tmp_path / "config.yaml").write_text("lifecycle: {new_days: 3}\n", "utf-8")
    config, _ = load_config(str(tmp_path / "config.yaml"))
    async with TestBot.running({}, config=config, start=START) as bot:
        await bot.join("u1", "r1")
        await bot.advance(timedelta(days=4))
        await bot.say("u1", "在", room="r1")
        assert await bot.field("u1", "lifecycle") == "growing"


def test_a_section_an_ability_declares_is_checked_like_the_rest(tmp_path: Path, registry: dict[str, type]) -> None:
    @config_section("greeting")
    class Greeting(Params):
        text: str = "你好"
        every: Duration | None = None

    config, _ = load_config(None)
    assert config.section(Greeting) == Greeting()
    assert problems(tmp_path, "greeting: {every: soon, txt: hi}\n") == [
        "1:19: 'every' must be a duration like 30s, 10m, 2h, 1d; got 'soon'",
        "1:25: unknown key 'txt' in 'greeting' (did you mean 'text'?)",
    ]


def test_a_section_is_declared_once_with_a_model_that_runs_without_it(registry: dict[str, type]) -> None:
    class Loose(Params):
        model_config = Params.model_config | {"extra": "ignore"}

    class Needy(Params):
        url: str

    class Fine(Params):
        days: int = Field(1, ge=1)

    config_section("fine")(Fine)
    wrong = {
        "registered twice": ("fine", Params),
        "already the model of another section": ("fine_again", Fine),
        "lower-case words": ("Fine", Params),
        "forbid unknown keys": ("loose", Loose),
        "url has none": ("needy", Needy),
    }
    for why, (key, model) in wrong.items():
        with pytest.raises(RegistrationError, match=why):
            config_section(key)(model)
    assert [key for key, model in registry.items() if model in (Fine, Loose, Needy)] == ["fine"]
    with pytest.raises(LookupError, match="not a config section"):
        Config().section(Needy)


def test_a_section_may_not_take_the_name_of_a_machinery_setting(registry: dict[str, type]) -> None:
    class Sending(Params):
        fast: bool = True

    config_section("sending")(Sending)
    with pytest.raises(RegistrationError, match="'sending' is one of the machinery's settings"):
        Config()


def test_a_replaced_config_is_read_afresh_though_each_config_remembers_its_sections(tmp_path: Path) -> None:
    """Config.section and Config.tz are answered from memory (asked once per event): a config read again after the
    file changed, or an account's copy with another zone, must give its own answers, not the first config's."""
    from bot.moderation.config import ModerationSection

    (tmp_path / "config.yaml").write_text("moderation: {exempt_tags: [白名单]}\n", "utf-8")
    first, _ = load_config(str(tmp_path / "config.yaml"))
    assert first.section(ModerationSection).exempt_tags == ("白名单",)
    assert first.section(ModerationSection) is first.section(ModerationSection)
    (tmp_path / "config.yaml").write_text("timezone: Europe/Berlin\nmoderation: {exempt_tags: [老会员]}\n", "utf-8")
    second, _ = load_config(str(tmp_path / "config.yaml"))
    assert second.section(ModerationSection).exempt_tags == ("老会员",)
    assert Config().section(ModerationSection).exempt_tags == ()
    assert first.section(ModerationSection).exempt_tags == ("白名单",)
    assert (first.tz, second.tz) == (ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin"))
    assert first.model_copy(update={"timezone": "America/New_York"}).tz == ZoneInfo("America/New_York")
    assert first == Config.model_validate(first.model_dump()).with_base(first.path("."))  # memory is no part of it
