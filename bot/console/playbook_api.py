"""The 玩法 section's part of the OpenAPI document. `{id}` is a playbook file inside the folder (welcome.yaml,
faq/hours.yaml) or a playbook's id (its file)."""

from __future__ import annotations

from typing import Any

from bot.console.openapi import READ, WRITE, answers

ID = [
    {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "剧本文件（如 welcome.yaml）或剧本 ID",
        "schema": {"type": "string", "minLength": 1, "maxLength": 300},
    }
]
PROBLEM = {
    "type": "object",
    "required": ["path", "line", "col", "message", "warning"],
    "properties": {
        "path": {"type": "string"},
        "line": {"type": "integer"},
        "col": {"type": "integer"},
        "message": {"type": "string"},
        "warning": {"type": "boolean"},
    },
}
CHECKED = {
    "type": "object",
    "required": ["ok", "problems", "elsewhere", "playbooks"],
    "properties": {
        "ok": {"type": "boolean"},
        "problems": {"type": "array", "items": PROBLEM},
        "elsewhere": {"type": "array", "items": PROBLEM, "description": "errors the text causes in other files"},
        "playbooks": {"type": "array", "items": {"type": "string"}},
    },
}
TEXT = {"type": "string", "maxLength": 1024 * 1024, "description": "剧本的 YAML 文本（最多 1 MB）"}


def body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


SAVED = {
    "type": "object",
    "required": ["saved"],
    "properties": {"saved": {"type": "boolean"}, "reload": {"type": "array", "items": {"type": "string"}}},
}
MISSING = {"404": "没有这个剧本或文件"}
PATHS: dict[str, Any] = {
    "/api/playbooks": {
        "get": {
            "summary": "Every playbook with its switch, last run, runs and failures in 24 h, and its file",
            "security": READ,
            "responses": answers("the playbooks", {"type": "object", "required": ["playbooks"]}),
        }
    },
    "/api/schema": {
        "get": {
            "summary": "The JSON Schema of playbooks (as `qunguan schema`), for the editor's completion",
            "security": READ,
            "responses": answers("the schema", {"type": "object"}),
        }
    },
    "/api/check": {
        "post": {
            "summary": "Check a playbook text with the rest of the folder: problems with line, column, message",
            "security": WRITE,
            "requestBody": body({"text": TEXT, "file": {"type": "string", "minLength": 1, "maxLength": 300}}, ["text"]),
            "responses": answers("the problems", CHECKED, write=True, more=MISSING),
        }
    },
    "/api/playbooks/{id}": {
        "get": {
            "summary": "A playbook file: its text, hash, playbooks and scenario files",
            "security": READ,
            "parameters": ID,
            "responses": answers("the file", {"type": "object", "required": ["file", "text", "hash"]}, more=MISSING),
        },
        "put": {
            "summary": "Save: check the whole set, keep a version, write the file, reload (as /重载); audited",
            "security": WRITE,
            "parameters": ID,
            "requestBody": body(
                {"text": TEXT, "base": {"type": ["string", "null"], "description": "hash of the text opened"}},
                ["text"],
            ),
            "responses": answers("saved", SAVED, write=True, more={**MISSING, "409": "文件在别处被改过了，没有保存"}),
        },
    },
    "/api/playbooks/{id}/versions": {
        "get": {
            "summary": "A file's saved versions, newest first, each with its diff against the one before",
            "security": READ,
            "parameters": ID,
            "responses": answers("the versions", {"type": "object", "required": ["versions"]}, more=MISSING),
        }
    },
    "/api/playbooks/{id}/rollback": {
        "post": {
            "summary": "Save an older version's text again (a new version, audited)",
            "security": WRITE,
            "parameters": ID,
            "requestBody": body({"version": {"type": "integer", "minimum": 1}}, ["version"]),
            "responses": answers("saved", SAVED, write=True, more=MISSING),
        }
    },
    "/api/playbooks/{id}/test": {
        "post": {
            "summary": "Run scenario files and a typed scenario against the text, on a scratch database",
            "security": WRITE,
            "parameters": ID,
            "requestBody": body(
                {
                    "text": TEXT,
                    "scenario": TEXT,
                    "scenarios": {"type": "array", "maxItems": 100, "items": {"type": "string"}},
                },
                [],
            ),
            "responses": answers(
                "the results",
                {"type": "object", "required": ["ran"]},
                write=True,
                more={**MISSING, "429": "已有测试在运行"},
            ),
        }
    },
    **{
        f"/api/playbooks/{{id}}/{verb}": {
            "post": {
                "summary": f"Switch a playbook {'on' if verb == 'enable' else 'off'} (as /{command}); audited",
                "security": WRITE,
                "parameters": ID,
                "responses": answers(
                    "switched", {"type": "object", "required": ["id", "on"]}, write=True, more=MISSING
                ),
            }
        }
        for verb, command in (("enable", "启用"), ("disable", "停用"))
    },
}
