"""Malformed playbooks are reported as exact `path:line:col: message` lines an operator can act on.

Each case is one broken file in a `playbooks/` folder, loaded the way `qunguan check` and hot
reloads load it, and compared against the complete list of lines: a wrong column, a missing hint
or an extra echo of the same mistake fails the test just as a traceback would.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from bot.playbook.library import PlaybookSet, load_folder, load_texts
from bot.testing import TestBot

ROOM_TAGS = {"vip", "staff"}


def yaml(text: str) -> str:
    """Dedented YAML whose first line is line 1, so the line numbers below can be counted by eye."""
    return textwrap.dedent(text).lstrip("\n")


def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> PlaybookSet:
    """Write `files` under tmp_path/playbooks and load that folder as `playbooks`, like `qunguan check`."""
    for name, text in files.items():
        path = tmp_path / "playbooks" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    monkeypatch.chdir(tmp_path)
    return load_folder(Path("playbooks"), room_tags=ROOM_TAGS)


def messages(result: PlaybookSet) -> list[str]:
    return [str(problem) for problem in result.problems]


P = "playbooks/p.yaml"

CASES = [
    # -- YAML syntax: PyYAML's parser words translated, located where the operator must look
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
         do:
          - reply: hi
        """),
        [f"{P}:4:2: YAML syntax error: wrong indentation: this line does not line up with the lines above it"],
        id="yaml-top-level-key-indented-by-one-space",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: hi
           mention: true
        """),
        [f"{P}:6:4: YAML syntax error: wrong indentation: this line does not line up with the lines above it"],
        id="yaml-option-indented-less-than-its-action",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: "欢迎
          - points: 5
        """),
        [f"{P}:5:12: YAML syntax error: this quoted text is never closed: add the closing quote"],
        id="yaml-unclosed-quote-points-at-the-opening-quote",
    ),
    pytest.param(
        "id: t\nwhen:\n\t- join: {}\ndo:\n  - reply: hi\n",
        [f"{P}:3:1: YAML syntax error: a tab character: indent with spaces only"],
        id="yaml-tab-indentation",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: {{ member.name }}
        """),
        [f"{P}:5:12: a text that starts with '{{{{' must be in quotes, like \"{{{{ member.name }}}} 你好\""],
        id="yaml-unquoted-template",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: {{ member.name }} 你好
        """),
        [f"{P}:5:12: a text that starts with '{{{{' must be in quotes, like \"{{{{ member.name }}}} 你好\""],
        id="yaml-unquoted-template-followed-by-text",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: 营业时间: 9点到22点
        """),
        [
            f"{P}:5:16: YAML syntax error: unexpected ': ' here: put a text containing ': ' in quotes, "
            "or fix the indentation"
        ],
        id="yaml-colon-inside-an-unquoted-text",
    ),
    pytest.param(
        yaml("""
        id: t
        when
          - join: {}
        do:
          - reply: hi
        """),
        [
            f"{P}:2:1: YAML syntax error: this line needs a ':' after its key (like 'key: value'), "
            "or is indented wrongly"
        ],
        id="yaml-key-without-colon",
    ),
    pytest.param(
        yaml("""
        id: t
        when: [{join: {}}
        do:
          - reply: hi
        """),
        [
            f"{P}:3:1: YAML syntax error: the list '[' on line 2 is not closed with ']' "
            "(or a ',' is missing between its items)"
        ],
        id="yaml-unclosed-bracket",
    ),
    pytest.param(
        yaml(r"""
        id: t
        when:
          - message: {regex: "^\d+$"}
        do:
          - reply: hi
        """),
        [
            f"{P}:3:24: YAML syntax error: '\\d' is not an escape inside double quotes: "
            "use single quotes for texts with backslashes, like regex: '^\\d+$'"
        ],
        id="yaml-backslash-in-double-quotes",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: hi
        ---
        id: u
        """),
        [f"{P}:6:1: YAML syntax error: a second document starts here: one playbook per file"],
        id="yaml-two-documents-in-one-file",
    ),
    pytest.param(
        "id: t\nwhen:\n  - join: {}\ndo:\n  - reply: hi\x07\n",
        [f"{P}:5:14: the file contains an invisible control character (U+0007) that YAML does not allow; delete it"],
        id="yaml-control-character",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - message: {<<: {text: hi}}
        do:
          - reply: hi
        """),
        [f"{P}:3:15: merge keys '<<' are not supported; write the keys out"],
        id="yaml-merge-key",
    ),
    # -- the file as a whole
    pytest.param("", [f"{P}:1:1: file is empty: a playbook needs at least 'id', 'when' and 'do'"], id="empty-file"),
    pytest.param(
        "# 以后再写\n",
        [f"{P}:1:1: file is empty: a playbook needs at least 'id', 'when' and 'do'"],
        id="comments-only",
    ),
    pytest.param(
        yaml("""
        - id: t
          when: [join: {}]
          do: [reply: hi]
        """),
        [f"{P}:1:1: a playbook is a mapping of keys (id, when, do, ...); got a list"],
        id="top-level-list",
    ),
    pytest.param(
        "name: 签到\n",
        [
            f"{P}:1:1: missing 'do': list what the bot should do",
            f"{P}:1:1: missing 'id': give the playbook a short id like 'daily-checkin'",
            f"{P}:1:1: missing 'when': say what starts this playbook, e.g. 'when: [{{message: {{text: 签到}}}}]'",
        ],
        id="missing-id-when-and-do",
    ),
    # -- top-level keys
    pytest.param(
        yaml("""
        id: Daily_Checkin
        when:
          - join: {}
        do:
          - reply: hi
        """),
        [
            f"{P}:1:5: 'id' must be lower-case letters, digits and '-', starting with a letter or digit; "
            "got 'Daily_Checkin'"
        ],
        id="id-with-capitals-and-underscore",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: hi
        do:
          - points: 5
        """),
        [f"{P}:6:1: duplicate key 'do' (already on line 4); keep one"],
        id="duplicate-key",
    ),
    pytest.param(
        yaml("""
        id: t
        on:
          - join: {}
        do:
          - reply: hi
        """),
        [f"{P}:2:1: 'on' is not a key here (YAML reads it as true in many tools); put triggers under 'when:'"],
        id="on-instead-of-when",
    ),
    pytest.param(
        yaml("""
        id: t
        enabled: no
        when:
          - join: {}
        do:
          - reply: hi
        """),
        [f"{P}:2:10: 'enabled' must be true or false; got 'no'"],
        id="enabled-no-stays-a-string",
    ),
    pytest.param(
        yaml("""
        id: t
        enabled: "maybe"
        when:
          - join: {}
        do:
          - reply: hi
        """),
        [f"{P}:2:10: 'enabled' must be true or false; got 'maybe'"],
        id="enabled-maybe",
    ),
    pytest.param(
        yaml("""
        id: t
        descripton: 每日签到
        when:
          - join: {}
        do:
          - reply: hi
        """),
        [f"{P}:2:1: unknown key 'descripton' (did you mean 'description'?)"],
        id="unknown-top-level-key-did-you-mean",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: hi
        名字: 欢迎
        """),
        [
            f"{P}:6:1: unknown key '名字'; a playbook's keys are "
            "id, name, description, enabled, rooms, when, if, do, coupons, fields, questions, rewards, wordlists"
        ],
        id="unknown-top-level-key-lists-the-keys",
    ),
    pytest.param(
        yaml("""
        id: t
        rooms: [会员福利1群, "tag:nope"]
        when:
          - join: {}
        do:
          - reply: hi
        """),
        [f"{P}:2:17: unknown room tag 'nope'; config.yaml tags: staff, vip"],
        id="unknown-room-tag",
    ),
    # -- names of triggers, conditions and actions
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - pionts: 5
        """),
        [f"{P}:5:5: unknown action 'pionts' (did you mean 'points'?)"],
        id="misspelt-action",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - message: {text: 签到}
        do:
          - chekin: {points: 5}
          - reply: "连续 {{ checkin.streak }} 天"
        """),
        [f"{P}:5:5: unknown action 'chekin' (did you mean 'checkin'?)"],
        id="misspelt-action-is-reported-once-not-again-for-the-variables-it-sets",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - mesage: {text: 签到}
        do:
          - reply: hi
        """),
        [f"{P}:3:5: unknown trigger 'mesage' (did you mean 'message'?)"],
        id="unknown-trigger",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        if:
          - rol: [staff]
        do:
          - reply: hi
        """),
        [f"{P}:5:5: unknown condition 'rol' (did you mean 'role'?)"],
        id="unknown-condition",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: 欢迎
            points: 10
        """),
        [f"{P}:6:5: one action per list item: 'reply' and 'points' share one; start a new '- ' item for each"],
        id="two-actions-in-one-item",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - friend: {}
        do:
          - quiz: {questions: signature-dishs, reward: {coupon: wk-10}}
          - coupon: {batch: wk-10}
          - claim: {batch: wk-01, keyword: 抢券}
        coupons:
          - {id: wk-10, title: 周末券, stock: 50}
        questions:
          signature-dishes: [{q: 招牌菜？, a: 酸菜鱼}]
        """),
        [
            f"{P}:5:5: question bank 'signature-dishs' is not declared (did you mean 'signature-dishes'?); "
            "declare it under 'questions:' in any playbook",
            f"{P}:7:5: coupon batch 'wk-01' is not declared (did you mean 'wk-10'?); "
            "declare it under 'coupons:' in any playbook",
        ],
        id="names-of-undeclared-batches-and-banks",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: hi
        questions:
          signature-dishes: [{q: 招牌菜？}, {q: 地址？, a: [], hint: 问店员}]
          BadId: [{q: x, a: y}]
        """),
        [
            f"{P}:7:22: 'question bank' needs 'a'",
            f"{P}:7:45: 'a' needs at least 1 item; got a list",
            f"{P}:7:49: unknown key 'hint' in 'question bank'; 'question bank' takes q, a",
            f"{P}:8:3: a question bank id is lower-case letters, digits and '-'; got 'BadId'",
        ],
        id="question-bank-mistakes",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - command: 加分
        do:
          - reply: hi
        """),
        [
            f"{P}:3:5: '/加分' is a built-in staff command (see /帮助); give this playbook's command another name, "
            "or delete the file if it is an old copy of a shipped playbook (redeem.yaml)"
        ],
        id="a-playbook-command-that-a-staff-command-would-shadow",
    ),
    # -- options of the right name but the wrong value
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - points: abc
        """),
        [f"{P}:5:13: 'points' must be a whole number; got 'abc'"],
        id="points-not-a-number",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: [欢迎, 你好]
        """),
        [f"{P}:5:12: 'reply' must be text; got a list"],
        id="reply-a-list",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: hi
            mention: yes
        """),
        [f"{P}:6:14: 'mention' must be true or false; got 'yes'"],
        id="mention-yes-stays-a-string",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        if:
          - cooldown: 10 minutes
        do:
          - reply: hi
        """),
        [f"{P}:5:15: 'cooldown' must be a duration like 30s, 10m, 2h, 1d; got '10 minutes'"],
        id="duration-in-words",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: hi
          - wait: 1h
        """),
        [f"{P}:6:11: 'wait' is for short pauses of at most 10m; use a 'schedule' for later follow-ups"],
        id="wait-over-the-limit",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - schedule: {cron: "0 20 * *"}
        do:
          - say: 晚上好
        """),
        [
            f"{P}:3:22: 'cron' must be a cron line of 5 fields (minute hour day month weekday), "
            "like '0 20 * * WED'; got '0 20 * *'"
        ],
        id="cron-with-four-fields",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - schedule: {cron: "0 20 * * FUN"}
        do:
          - say: 晚上好
        """),
        [f"{P}:3:22: 'cron' is not a valid cron line: weekday 'fun' is not 0-7 or sun..sat; got '0 20 * * FUN'"],
        id="cron-with-a-bad-weekday",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - schedule: {cron: "0 25 * * *"}
        do:
          - say: 晚上好
        """),
        [
            f"{P}:3:22: 'cron' is not a valid cron line: Error validating expression '25': the last value (25) "
            "is higher than the maximum value (23); got '0 25 * * *'"
        ],
        id="cron-hour-out-of-range",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - message: {regex: '^查(询积分$'}
        do:
          - reply: hi
        """),
        [
            f"{P}:3:22: 'regex' is not a valid regular expression: missing ), unterminated subpattern "
            "at position 2 (in '^查(询积分$')"
        ],
        id="bad-regex",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - message: {text: 签到, keywords: [打卡]}
        do:
          - reply: hi
        """),
        [f"{P}:3:14: 'message' needs exactly one of text, keywords, regex, has, words; got text, keywords"],
        id="message-with-two-matchers",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - message: {text: 签到, in: groups}
        do:
          - reply: hi
        """),
        [f"{P}:3:29: 'in' must be 'group', 'private' or 'any'; got 'groups' (did you mean 'group'?)"],
        id="message-in-groups",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {room: 会员福利1群}
        do:
          - reply: hi
        """),
        [f"{P}:3:12: unknown key 'room' in 'join'; 'join' takes no options: write 'join: {{}}'"],
        id="join-with-options",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        if:
          - time: {between: ["09:00", "24:30"]}
        do:
          - reply: hi
        """),
        [f"{P}:5:31: 'between' must be a time like 09:00; got '24:30'"],
        id="bad-time-in-between",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        if:
          - time: {weekdays: [mon, funday]}
        do:
          - reply: hi
        """),
        [f"{P}:5:28: 'weekdays' must be a weekday (mon, tue, ... sun or 周一 ... 周日); got 'funday'"],
        id="bad-weekday",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        if:
          - once: {per: fortnight}
        do:
          - reply: hi
        """),
        [f"{P}:5:17: 'per' must be 'day', 'week', 'month', 'year' or 'ever'; got 'fortnight'"],
        id="once-per-fortnight",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        if:
          - role: [owner, staf]
        do:
          - reply: hi
        """),
        [f"{P}:5:19: 'role' must be 'owner', 'admin', 'staff' or 'member'; got 'staf' (did you mean 'staff'?)"],
        id="misspelt-role-named-as-written",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        if:
          - expr: "member.points >="
        do:
          - reply: hi
        """),
        [f"{P}:5:11: 'expr' is not a valid expression: it ends too early (something is missing at its end)"],
        id="expression-cut-short",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - checkin: {points: 5, bonus: {seven: 20}}
        """),
        [f"{P}:5:34: a key of 'bonus' must be a whole number; got 'seven'"],
        id="checkin-bonus-key-not-a-number",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - checkin: {points: 5, bonus: {7: -20}}
        """),
        [f"{P}:5:33: 'bonus' values are points added on that streak day, 0 or more; day 7 has -20"],
        id="checkin-bonus-takes-points",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - message: {text: 签到}
        do:
          - points: {add: 20, to: inviter}
        """),
        [f"{P}:5:27: 'to' names 'inviter', which this playbook does not have"],
        id="to-inviter-without-a-join-trigger",
    ),
    # -- templates, checked against what the triggers give a run
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: "欢迎 {{ membr.name }}"
        """),
        [f"{P}:5:12: unknown template variable 'membr' (did you mean 'member'?)"],
        id="template-unknown-variable",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: "欢迎 {{ member.nmae }}"
        """),
        [f"{P}:5:12: unknown template variable 'member.nmae' (did you mean 'member.name'?)"],
        id="template-unknown-attribute",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: "欢迎 {{ member.name "
        """),
        [f"{P}:5:12: 'reply' has a template error on its line 1: '{{{{' is not closed with '}}}}'"],
        id="template-unclosed",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - reply: "欢迎 {{ member.name | uper }}"
        """),
        [f"{P}:5:12: 'reply' has a template error on its line 1: no filter named 'uper' (did you mean 'upper'?)"],
        id="template-unknown-filter",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - schedule: {every: 1h}
        do:
          - say: "{{ member.name }} 你好"
        """),
        [f"{P}:5:10: 'member' is not available here: 'schedule' gives a run only bot, config, now, room"],
        id="template-variable-the-trigger-does-not-give",
    ),
    # -- choose
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - choose:
              - if: [{role: staff}]
              - else: [{reply: hi}]
        """),
        [f"{P}:6:9: this 'choose' branch has 'if' but no 'do': add 'do: [...]' with its actions"],
        id="choose-branch-without-do",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - choose:
              - else: [{reply: hi}]
              - if: [{role: staff}]
                do: [{reply: 店长好}]
        """),
        [f"{P}:6:9: 'else' must be the last branch of 'choose'"],
        id="choose-else-not-last",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - choose:
              - if: [{role: staff}]
                then: [{reply: 店长好}]
        """),
        [f"{P}:7:9: unknown key 'then' in a 'choose' branch; a branch has 'if' and 'do', or is '- else: [...]'"],
        id="choose-branch-with-then",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - choose:
              - if: [{rol: staff}]
                do: [{reply: 店长好}]
              - iff: [{role: admin}]
                do: [{reply: 管理员好}]
              - do: [{reply: 你好}]
        """),
        [
            f"{P}:6:15: unknown condition 'rol' (did you mean 'role'?)",
            f"{P}:8:9: unknown key 'iff' in a 'choose' branch (did you mean 'if'?)",
            f"{P}:10:9: this 'choose' branch has 'do' but no 'if': add 'if: [...]', or make it the last branch "
            "as '- else: [...]'",
        ],
        id="choose-problems-of-every-branch",
    ),
    pytest.param(
        yaml("""
        id: t
        when:
          - join: {}
        do:
          - choose:
              - if: [{role: staff}]
                do:
                  - wait: 2s
                  - reply: 店长好
              - else:
                  - wait: 5s
        """),
        [
            f"{P}:8:13: 'wait' works only directly in the playbook's 'do' list, "
            "not inside 'choose' or 'for_each'; "
            "move it out, or use a 'schedule' for a later follow-up",
            f"{P}:11:13: 'wait' works only directly in the playbook's 'do' list, "
            "not inside 'choose' or 'for_each'; "
            "move it out, or use a 'schedule' for a later follow-up",
        ],
        id="wait-inside-choose",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_a_broken_playbook_is_reported_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: list[str]
) -> None:
    """The whole report, not a substring: every line must name the place to fix and say how."""
    result = load(tmp_path, monkeypatch, {"p.yaml": text})
    assert messages(result) == expected
    assert result.playbooks == []


def test_a_duplicate_id_points_at_the_file_that_has_it_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids are unique across files; the later file (in path order) is refused and names the earlier one."""
    first = "id: checkin\nwhen:\n  - join: {}\ndo:\n  - reply: a\n"
    second = "# 复制来的\nid: checkin\nwhen:\n  - leave: {}\ndo:\n  - reply: b\n"
    result = load(tmp_path, monkeypatch, {"a.yaml": first, "sub/b.yml": second})
    assert messages(result) == ["playbooks/sub/b.yml:2:1: duplicate id 'checkin' (also in playbooks/a.yaml:1:1)"]
    assert [(pb.id, pb.path) for pb in result.playbooks] == [("checkin", "playbooks/a.yaml")]


def test_problems_of_every_file_come_at_once_sorted_by_path_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator fixes everything in one pass: no file stops the check of another, and good files still load."""
    files = {
        "z-last.yaml": "id: z\nwhen:\n  - join: {}\ndo:\n  - wait: 1h\n  - pionts: 5\n",
        "a-first.yaml": "id: A\nwhen:\n  - mesage: {text: hi}\ndo:\n  - reply: hi\n",
        "good.yaml": "id: good\nwhen:\n  - join: {}\ndo:\n  - reply: 欢迎\n",
        "m/bad-yaml.yml": "id: m\nwhen: [\n",
        "m/not-utf8.yaml": "",
        "tests/scenario.yaml": "name: 不是 playbook\nsteps: []\n",
    }
    (tmp_path / "playbooks" / "m").mkdir(parents=True)
    (tmp_path / "playbooks" / "m" / "not-utf8.yaml").write_bytes("id: gbk\nname: 签到\n".encode("gbk"))
    del files["m/not-utf8.yaml"]
    result = load(tmp_path, monkeypatch, files)
    assert messages(result) == [
        "playbooks/a-first.yaml:1:5: 'id' must be lower-case letters, digits and '-', "
        "starting with a letter or digit; got 'A'",
        "playbooks/a-first.yaml:3:5: unknown trigger 'mesage' (did you mean 'message'?)",
        "playbooks/m/bad-yaml.yml:3:1: YAML syntax error: the file ends too early: a '[', '{' or quote is not closed",
        "playbooks/m/not-utf8.yaml:1:1: file is not UTF-8 text: save it with UTF-8 encoding",
        "playbooks/z-last.yaml:5:11: 'wait' is for short pauses of at most 10m; use a 'schedule' for later follow-ups",
        "playbooks/z-last.yaml:6:5: unknown action 'pionts' (did you mean 'points'?)",
    ]
    assert [pb.id for pb in result.playbooks] == ["good"]


async def test_yes_no_on_off_stay_the_words_members_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """YAML 1.1 would read `no` as false and never match; here it is the text "no", and `on` is a reply."""
    text = yaml("""
    id: yes-no
    when:
      - message: {text: no}
      - message: {keywords: [yes, off]}
    do:
      - reply: on
    """)
    result = load(tmp_path, monkeypatch, {"yes-no.yaml": text})
    assert messages(result) == []
    (playbook,) = result.playbooks
    assert [t.params.text or t.params.keywords for t in playbook.triggers] == [["no"], ["yes", "off"]]
    bot = await TestBot.create(result)
    try:
        assert [m.text for m in await bot.say("u1", "no", room="r1")] == ["on"]
        assert [m.text for m in await bot.say("u1", "yes please", room="r1")] == ["on"]
        assert await bot.say("u1", "false", room="r1") == []
    finally:
        await bot.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: t\nwhen: [{join: {}}]\ndo:\n  - reply: !!int nope\n", "cannot read this value (tag:yaml.org,2002:int)"),
        ("id: t\nwhen: [{join: {}}]\ndo:\n  - reply: " + "[" * 1100 + "]" * 1100 + "\n", "nested more than 64"),
    ],
    ids=["tag-that-cannot-make-its-value", "deeper-than-libyaml-allows"],
)
def test_values_yaml_cannot_make_are_problems_not_crashes(text: str, message: str) -> None:
    problems = [str(p) for p in load_texts({P: text}).problems]
    assert len(problems) == 1 and message in problems[0], problems
    assert re.match(rf"{re.escape(P)}:\d+:\d+: ", problems[0])
