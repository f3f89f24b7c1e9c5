"""The playbook loader on YAML nobody meant to write: generated playbooks and mutated shipped ones.

Operators edit playbooks by hand; whatever they save, `qunguan check` and a reload must answer with
`path:line:col: message` lines, never a traceback, and a broken file must never take another one down
or load half-way. Hypothesis runs derandomized (the same examples in every run) and without deadlines.
"""

from __future__ import annotations

import copy
import re
import resource
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.playbook.library import load_texts, playbook_files

ROOT = Path(__file__).resolve().parents[2]
PATH = "playbooks/fuzz.yaml"
ANCHOR_PATH = "playbooks/zz-anchor.yaml"
ANCHOR = "id: fuzz-anchor\nwhen:\n  - message: {text: 锚}\ndo:\n  - reply: 我还在\n"
PROBLEM = re.compile(r"(?P<path>[^\n]+?):(?P<line>\d+):(?P<col>\d+): (?P<message>\S.*)", re.S)
FUZZ = settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

SHIPPED = [path.read_text("utf-8") for path in playbook_files(ROOT / "playbooks")]
# The language's own words, so generated files get past the first checks and reach the deep ones.
VOCABULARY = """
id name description enabled rooms when if do coupons questions message text keywords regex in command join leave
friend schedule cron every at role tags any all none time between weekdays once per scope cooldown expr reply mention
say room dm points add reason to allow_negative tag untag invite checkin bonus coupon batch quiz pick window winners
reward claim keyword for_each segment limit choose else wait stop expires title stock per_member valid_for code_prefix
q a lifecycle inactive_days joined_days not_nudged_days redeem code
"""
WORDS = VOCABULARY.split()
ODD = [
    "{{ 7*7 }}",
    "{{ member.name }}",
    "{{ nosuch.var }}",
    "{% for x in y %}",
    "{{",
    "}}",
    "{%",
    "10 minutes",
    "30s",
    "1d",
    "0",
    "-1",
    "22:00",
    "2026-12-12 20:00",
    "0 20 * * WED",
    "* * *",
    "tag:会员群",
    "签到",
    "[",
    "(?P<x",
    "^查(询)?积分$",
    "yes",
    "no",
    "on",
    "off",
    "",
]
TOKENS = [
    *ODD,
    ":",
    ": ",
    "- ",
    "-",
    "{",
    "}",
    "]",
    ",",
    "\t",
    "  ",
    "\n",
    "'",
    '"',
    "&a ",
    "*a",
    "<<: *a",
    "!!python/object/apply:os.system ['true'] ",
    "!!binary ",
    "!custom ",
    "#",
    "|",
    ">-",
    "---\n",
    "...\n",
    "? ",
    "%YAML 1.1\n",
    "\x00",
    "\x07",
    "\ufeff",
    "\u200b",
    "\u2028",
    "\r",
    "\r\n",
    "~",
    "null",
    "1e400",
    "-.inf",
    ".nan",
    "0x1F",
    "9" * 40,
    "reply",
    "do",
    "when",
    "choose",
    "else",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(ODD),
)
keys = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=8))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)
one_key = st.builds(lambda k, v: {k: v}, st.sampled_from(WORDS), values)  # like an action or a trigger
playbook_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.sampled_from(["a", "daily-checkin", "Bad Id", "x" * 80]), values),
        "when": st.one_of(st.lists(one_key, max_size=3), values),
        "if": st.one_of(st.lists(one_key, max_size=3), values),
        "do": st.one_of(st.lists(one_key, max_size=5), values),
        "rooms": values,
        "enabled": values,
        "coupons": st.one_of(st.lists(st.dictionaries(st.sampled_from(WORDS), values, max_size=6)), values),
        "questions": values,
    },
).flatmap(lambda core: st.builds(lambda extra: {**core, **extra}, st.dictionaries(keys, values, max_size=2)))


TRIGGERS = [
    {"message": {"text": "签到"}},
    {"message": {"keywords": ["营业时间", "几点"], "in": "any"}},
    {"message": {"regex": "^查(?P<what>积分|券)$"}},
    {"command": "积分"},
    {"join": {}},
    {"leave": {}},
    {"friend": {}},
    {"schedule": {"cron": "0 20 * * WED"}},
    {"schedule": {"every": "1h"}},
]
CONDITIONS = [
    {"role": ["owner", "staff"]},
    {"tags": {"any": ["新人"], "none": ["黑名单"]}},
    {"time": {"between": ["09:00", "22:00"], "weekdays": ["mon", "fri"]}},
    {"once": {"per": "day", "scope": "member"}},
    {"cooldown": "10m"},
    {"expr": "member.points >= 100"},
]
STEPS = [
    {"reply": "你好 {{ member.name }}，共 {{ member.points }} 分", "mention": True},
    {"say": {"text": "公告", "room": "会员福利1群"}},
    {"dm": "{{ member.name }}，私信"},
    {"points": 5},
    {"points": {"add": -20, "reason": "兑换"}},
    {"tag": "新人"},
    {"untag": "新人"},
    {"checkin": {"points": 5, "bonus": {7: 20, 30: 100}}},
    {"coupon": {"batch": "b1"}},
    {"claim": {"batch": "b1", "keyword": "抢券", "window": "30m"}},
    {"quiz": {"questions": "bank", "pick": "random", "window": "10m", "winners": 3, "reward": {"points": 20}}},
    {"wait": "2s"},
    {"stop": {}},
    {"choose": [{"if": [{"expr": "checkin.already"}], "do": [{"reply": "x"}]}, {"else": [{"reply": "y"}]}]},
    {"for_each": {"segment": {"lifecycle": "dormant", "not_nudged_days": 30}, "limit": 50, "do": [{"dm": "z"}]}},
]


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A playbook built from working parts, then edited in a few places (none: it must load)."""
    data: dict[str, Any] = {
        "id": "fuzzed",
        "when": draw(st.lists(st.sampled_from(TRIGGERS), min_size=1, max_size=3)),
        "do": draw(st.lists(st.sampled_from(STEPS), min_size=1, max_size=5)),
    }
    if draw(st.booleans()):
        data["if"] = draw(st.lists(st.sampled_from(CONDITIONS), min_size=1, max_size=2))
    data["coupons"] = [{"id": "b1", "title": "券", "stock": 50, "per_member": 1, "valid_for": "7d"}]
    data["questions"] = {"bank": [{"q": "本店招牌菜？", "a": ["酸菜鱼"]}]}
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(0, 3))):
        spots = list(_spots(data))
        parent, key = draw(st.sampled_from(spots))
        edit = draw(st.sampled_from(["replace", "drop", "rename"]))
        if edit == "replace":
            parent[key] = draw(values)
        elif edit == "drop" and isinstance(parent, dict):
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(keys)] = parent.pop(key)
    return data


def _spots(data: Any) -> Any:
    """(container, key) for every value inside `data`."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in list(items):
        yield data, key
        yield from _spots(value)


@st.composite
def generated_yaml(draw: st.DrawFn) -> str:
    data = draw(st.one_of(near_valid(), playbook_like, values))
    flow = draw(st.sampled_from([False, True, None]))
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=flow)


@st.composite
def mutated_yaml(draw: st.DrawFn) -> str:
    """A shipped playbook after a few edits an operator (or a bad paste) could make."""
    text = draw(st.sampled_from(SHIPPED))
    for _ in range(draw(st.integers(1, 6))):
        lines = text.split("\n")
        at = draw(st.integers(0, max(len(text), 1) - 1))
        span = draw(st.integers(0, 40))
        op = draw(st.sampled_from(["insert", "delete", "replace", "indent", "dedent", "swap", "copy", "cut", "type"]))
        if op == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + span :]
        elif op == "replace":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at + span :]
        elif op == "type":
            text = text[:at] + draw(st.text(max_size=6)) + text[at:]
        elif op == "cut":
            text = text[:at]
        else:
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if op == "indent":
                lines[i] = " " * draw(st.integers(1, 4)) + lines[i]
            elif op == "dedent":
                lines[i] = lines[i][draw(st.integers(1, 4)) :]
            elif op == "swap":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines.insert(j, lines[i])
            text = "\n".join(lines)
    return text


def check_loads_or_reports(text: str) -> None:
    """The invariant: no exception; every problem is `path:line:col: message` pointing into the file; the file
    loads whole or not at all (and then says why); the other file loads whatever this one holds."""
    result = load_texts({PATH: text, ANCHOR_PATH: ANCHOR})
    lines = len(text.splitlines()) + 1
    width = max((len(line) for line in text.splitlines()), default=0) + 2
    for problem in result.problems:
        found = PROBLEM.fullmatch(str(problem))
        assert found is not None, f"not path:line:col: message: {problem!r}"
        assert found["path"] == PATH, str(problem)
        assert 1 <= int(found["line"]) <= lines and 1 <= int(found["col"]) <= width, (str(problem), text)
    ids = {pb.id: pb.path for pb in result.playbooks}
    assert ids.get("fuzz-anchor") == ANCHOR_PATH, [str(p) for p in result.problems]
    loaded = PATH in ids.values()
    assert loaded != bool(result.problems), (loaded, [str(p) for p in result.problems])


@FUZZ
@given(generated_yaml())
def test_generated_yaml_loads_or_is_reported_at_path_line_col(text: str) -> None:
    check_loads_or_reports(text)


@FUZZ
@given(mutated_yaml())
def test_mutated_shipped_playbooks_load_or_are_reported_at_path_line_col(text: str) -> None:
    check_loads_or_reports(text)


NASTY = {
    "alias-to-itself": "id: a\nwhen: [{message: {text: hi}}]\ndo: [{reply: hi}]\nx: &x [*x]\n",
    "alias-inside-its-own-step": "id: a\nwhen: [{message: {text: hi}}]\ndo: &d\n  - choose: [{else: *d}]\n",
    "nested-500-deep": "id: a\nwhen: [{message: {text: hi}}]\ndo: " + "[" * 500 + "]" * 500 + "\n",
}


@pytest.mark.parametrize("text", NASTY.values(), ids=NASTY.keys())
def test_self_referencing_and_deeply_nested_yaml_is_reported_at_path_line_col(text: str) -> None:
    """YAML can describe a list that contains itself, and nest deeper than Python's recursion limit."""
    check_loads_or_reports(text)


BOMB = textwrap.dedent("""
    id: bomb
    when: [{message: {text: hi}}]
    do: [{reply: hi}]
    a0: &a0 [x, x, x, x, x, x, x, x, x, x]
    a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]
    a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]
    a3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]
    a4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]
    a5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]
    a6: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]
    a7: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]
    a8: &a8 [*a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7]
""")


BOMB_SECONDS = 10
BOMB_MEMORY = 2 * 1024**3  # bytes of address space for the child: plenty to load a playbook


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (BOMB_MEMORY, BOMB_MEMORY))


def test_an_alias_bomb_is_reported_at_path_line_col_instead_of_expanded() -> None:
    """A 700-byte file whose aliases expand to 10**9 values: reported in a moment, not built for hours.

    Run in a child process with limits on time and memory, so that a loader that expands it fails this
    test instead of hanging the suite or exhausting the machine."""
    probe = textwrap.dedent(f"""
        from bot.playbook.library import load_texts
        result = load_texts({{{PATH!r}: {BOMB!r}}})
        print("\\n".join(str(p) for p in result.problems))
    """)
    try:
        done = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            timeout=BOMB_SECONDS,
            cwd=ROOT,
            check=False,
            preexec_fn=_limit_memory,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the loader was still expanding the aliases after {BOMB_SECONDS} s (it must refuse the file)")
    assert done.returncode == 0, done.stderr[-2000:]
    problems = done.stdout.splitlines()
    assert problems, "the bomb loaded as a playbook"
    assert all(PROBLEM.fullmatch(p) and p.startswith(PATH + ":") for p in problems), problems
