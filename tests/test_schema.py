"""The editor schema of playbooks agrees with the loader: what loads validates, clear mistakes do not."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, Literal

import contract_examples
import pytest
from jsonschema import Draft7Validator
from pydantic import BaseModel, Field

from bot.playbook.errors import Problems
from bot.playbook.library import load_folder, load_texts, playbook_files
from bot.playbook.loader import parse_yaml
from bot.playbook.model import TOP_KEYS
from bot.playbook.schema import json_schema
from bot.playbook.types import Duration, Params, TextField
from bot.registry import Registry, Spec, load_abilities

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = playbook_files(ROOT / "playbooks")


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    return Draft7Validator(json_schema())


def parse(text: str, name: str = "t.yaml") -> Any:
    problems = Problems()
    doc = parse_yaml(text, name, problems)
    assert doc is not None, [str(p) for p in problems.sorted()]
    # What an editor validates is JSON-like: mapping keys are strings (`bonus: {7: 20}`).
    return json.loads(json.dumps(doc.data, ensure_ascii=False))


def schema_errors(validator: Draft7Validator, data: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


def loader_problems(text: str) -> list[str]:
    return [str(p) for p in load_texts({"t.yaml": text}).problems]


# -- (1) every playbook that loads also validates


def test_there_are_shipped_playbooks_and_none_from_tests() -> None:
    assert SHIPPED
    assert not [p for p in SHIPPED if "tests" in p.relative_to(ROOT / "playbooks").parts]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_playbook_validates(validator: Draft7Validator, path: Path) -> None:
    text = path.read_text("utf-8")
    assert text.startswith("# yaml-language-server: $schema="), "editors find the schema through this line"
    assert not load_folder(ROOT / "playbooks").problems  # with the others: a bank may be declared elsewhere
    assert schema_errors(validator, parse(text, str(path))) == []


def test_contract_examples_that_this_version_can_run_validate(validator: Draft7Validator) -> None:
    examples = contract_examples.playbooks()
    assert examples
    registry = load_abilities()
    runnable = [(text, parse(text)) for text in examples]
    runnable = [(text, data) for text, data in runnable if contract_examples.uses_only_registered(data, registry)]
    assert runnable, "no example of the contract uses only registered abilities"
    for text, data in runnable:
        assert loader_problems(text) == [], data["id"]
        assert schema_errors(validator, data) == [], data["id"]


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
}

INVALID = {
    "unknown top-level key": playbook(head="foo: 1\n"),
    "'on' instead of 'when'": "id: t\non:\n  - join: {}\ndo:\n  - reply: hi\n",
    "unknown action": playbook(do="- pionts: 5"),
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
    "once per month": playbook(if_="- once: {per: month}"),
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
}


# Values the loader takes but whose types (bot/playbook/types.py) tell JSON Schema less than they accept.
GAPS = {
    "a weekday in Chinese": playbook(if_="- time: {weekdays: [周一, Monday]}"),
    "a text that is a number": playbook(do="- reply: 123"),
    "a duration in capitals": playbook(do="- wait: 2S"),
}


@pytest.mark.parametrize(
    "text",
    [
        *VALID.values(),
        *GAPS.values(),
    ],
    ids=[*VALID, *GAPS],
)
def test_forms_the_loader_accepts_validate(validator: Draft7Validator, text: str) -> None:
    assert loader_problems(text) == []
    assert schema_errors(validator, parse(text)) == []


@pytest.mark.parametrize("text", INVALID.values(), ids=INVALID.keys())
def test_mistakes_the_loader_refuses_fail_validation(validator: Draft7Validator, text: str) -> None:
    assert loader_problems(text) != []
    assert schema_errors(validator, parse(text)) != []


# -- (3) the schema itself


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
def custom() -> Draft7Validator:
    registry = Registry()
    registry.add(Spec("trigger", "join", Empty, None, None))
    registry.add(Spec("action", "quiz", QuizParams, "bank", _quiz))
    registry.add(Spec("action", "note", NoteParams, None, _note))
    schema = json_schema(registry)
    Draft7Validator.check_schema(schema)
    assert "action.quiz.Reward" in schema["definitions"]
    assert schema["definitions"]["action.quiz"]["description"] == "Ask a question."
    assert "description" not in schema["definitions"]["action.note"]  # not Params' docstring
    return Draft7Validator(schema)


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
def test_a_registry_with_nested_models_and_aliases_accepts(custom: Draft7Validator, do: str) -> None:
    assert schema_errors(custom, parse(playbook(do=do))) == []


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
def test_a_registry_with_nested_models_and_aliases_refuses(custom: Draft7Validator, do: str) -> None:
    assert schema_errors(custom, parse(playbook(do=do))) != []


def test_the_committed_schema_file_is_current() -> None:
    """Shipped playbooks point editors at qunguan.schema.json; regenerate with `qunguan schema -o ...`."""
    committed = json.loads((ROOT / "qunguan.schema.json").read_text("utf-8"))
    assert committed == json.loads(json.dumps(json_schema(), ensure_ascii=False))
