"""The sandbox API's part of the OpenAPI document (bot/console/sections/sandbox.py serves it). The bounds here
are the ones the routes check, so a fuzzer's valid requests are the ones the routes take."""

from __future__ import annotations

from typing import Any

from bot.console.openapi import READ, WRITE, answers

MAX_TEXT = 500  # characters of one message typed in a sandbox
MAX_ID = 64  # a member's or a group's id
MAX_NAME = 32  # a member's name
MAX_AMOUNT = 1000  # the number in 快进
MAX_ADVANCE_DAYS = 31  # one 快进 moves at most this far: every schedule on the way runs, one by one
UNITS = {"minutes": 60, "hours": 3600, "days": 86400}  # seconds per unit of 快进
MOST = {unit: min(MAX_AMOUNT, MAX_ADVANCE_DAYS * 86400 // seconds) for unit, seconds in UNITS.items()}
TRACES_LIMIT = 200

CONTROL = r"\u0000-\u001f\u007f-\u009f"  # what no field may hold (a message may hold newlines)
IN_TEXT = r"\u0000-\u0009\u000b-\u001f\u007f-\u009f"
ID = {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": rf"^[^\s{CONTROL}]+$"}
NAME = {"type": "string", "maxLength": MAX_NAME, "pattern": rf"^[^{CONTROL}]*$"}
# not only spaces: a message says something
TEXT = {"type": "string", "maxLength": MAX_TEXT, "pattern": rf"^[^{IN_TEXT}]*[^\s{CONTROL}][^{IN_TEXT}]*$"}
SANDBOX_ID = {"name": "sandbox_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
AFTER = {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 1_000_000_000}}
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": TRACES_LIMIT}}
GONE = {"404": "沙盒不存在或已过期", "409": "沙盒还没准备好"}

LINE = {
    "type": "object",
    "required": ["seq", "at", "side", "text"],
    "properties": {
        "seq": {"type": "integer"},
        "at": {"type": "string"},
        "side": {"type": "string", "enum": ["member", "bot", "note"]},
        "text": {"type": "string"},
        "member_id": {"type": ["string", "null"]},
        "member_name": {"type": "string"},
        "room_id": {"type": ["string", "null"]},
        "room_topic": {"type": "string"},
    },
}
LINES = {"type": "object", "required": ["lines"], "properties": {"lines": {"type": "array", "items": LINE}}}
ABOUT = {
    "type": "object",
    "required": ["id", "database", "playbooks", "problems"],
    "properties": {
        "id": {"type": "string"},
        "database": {"type": "string", "enum": ["copy", "empty"]},
        "created": {"type": "string"},
        "used": {"type": "string"},
        "now": {"type": ["string", "null"]},
        "playbooks": {"type": "array", "items": {"type": "string"}},
        "problems": {"type": "array", "items": {"type": "string"}},
    },
}
PICK = {"type": "array", "items": {"type": "object"}}
STATE = {**ABOUT, "properties": {**ABOUT["properties"], "lines": LINES["properties"]["lines"], "rooms": PICK,
                                 "members": PICK}}  # fmt: skip
TRACE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "string"},
        "stage": {"type": "string"},
        "name": {"type": "string"},
        "outcome": {"type": "string"},
        "summary": {"type": "string"},
        "steps": {"type": "array"},
    },
}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "required": required, "properties": properties}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _write(summary: str, body: dict[str, Any] | None, schema: dict[str, Any], more: dict[str, str]) -> dict[str, Any]:
    operation = {
        "summary": summary,
        "security": WRITE,
        "parameters": [SANDBOX_ID],
        "responses": answers(summary, schema, write=True, more=more),
    }
    if body is not None:
        operation["requestBody"] = body
    return operation


WHO = {"member": ID, "name": NAME, "room": ID}
ADVANCES = [  # how far one 快进 may go, in each unit
    {
        "type": "object",
        "required": ["amount", "unit"],
        "properties": {"amount": {"type": "integer", "minimum": 1, "maximum": most}, "unit": {"const": unit}},
    }
    for unit, most in MOST.items()
]
PATHS: dict[str, Any] = {
    "/api/sandbox": {
        "get": {
            "summary": "My sandboxes and the limits",
            "security": READ,
            "responses": answers("the sandboxes", {"type": "object"}),
        },
        "post": {
            "summary": "A new sandbox: the playbooks folder as it is now, on a copy of the database",
            "security": WRITE,
            "responses": answers(
                "the new sandbox",
                STATE,
                write=True,
                more={"409": "没有剧本文件夹", "429": "沙盒已满", "503": "沙盒无法启动"},
            ),
        },
    },
    "/api/sandbox/{sandbox_id}": {
        "get": {
            "summary": "A sandbox: what it runs, its clock, the pickers and the whole chat",
            "security": READ,
            "parameters": [SANDBOX_ID],
            "responses": answers("the sandbox", STATE, more=GONE),
        },
        "delete": _write("Close a sandbox and delete its copy", None, {"type": "object"}, GONE),
    },
    "/api/sandbox/{sandbox_id}/say": {
        "post": _write(
            "A member says something, in a group (`room`) or privately (no `room`)",
            _body({**WHO, "text": TEXT}, ["member", "text"]),
            LINES,
            GONE,
        )
    },
    "/api/sandbox/{sandbox_id}/join": {
        "post": _write("A member joins a group", _body(WHO, ["member", "room"]), LINES, GONE)
    },
    "/api/sandbox/{sandbox_id}/leave": {
        "post": _write("A member leaves a group", _body(WHO, ["member", "room"]), LINES, GONE)
    },
    "/api/sandbox/{sandbox_id}/advance": {
        "post": _write(
            f"Move the sandbox's clock forward (at most {MAX_ADVANCE_DAYS} days); schedules due on the way run",
            {"required": True, "content": {"application/json": {"schema": {"oneOf": ADVANCES}}}},
            LINES,
            GONE,
        )
    },
    "/api/sandbox/{sandbox_id}/transcript": {
        "get": {
            "summary": "The chat lines after `after`",
            "security": READ,
            "parameters": [SANDBOX_ID, AFTER],
            "responses": answers("the lines", LINES, more=GONE),
        }
    },
    "/api/sandbox/{sandbox_id}/traces": {
        "get": {
            "summary": "The traces in the sandbox's copy, newest first (those after `after`)",
            "security": READ,
            "parameters": [SANDBOX_ID, AFTER, LIMIT],
            "responses": answers(
                "the traces",
                {"type": "object", "required": ["traces"], "properties": {"traces": {"type": "array", "items": TRACE}}},
                more=GONE,
            ),
        }
    },
}
