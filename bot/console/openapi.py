"""Pieces of the console's OpenAPI document that every section's paths use: the error body, what a read and a
write need (a session; a write also its CSRF token), and the usual responses of an operation."""

from __future__ import annotations

from typing import Any

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
READ = [{"session": []}]  # what a read needs
WRITE = [{"session": [], "csrf": []}]  # what a write needs


def answers(
    description: str, schema: dict[str, Any], *, write: bool = False, more: dict[str, str] | None = None
) -> dict[str, Any]:
    """The responses of an API operation: 200 with `schema`, 401 without a session, 403 for a role too low
    (and, for a write, without the CSRF token), 422 for bad input, plus `more` (status -> description)."""
    errors = {
        "401": "未登录",
        "403": "没有权限" + ("或 CSRF 校验失败" if write else ""),
        "422": "参数不对",
        **(more or {}),
    }
    result: dict[str, Any] = {"200": {"description": description, "content": {"application/json": {"schema": schema}}}}
    for status, text in errors.items():
        result[status] = {"description": text, "content": {"application/json": {"schema": ERROR}}}
    return result


PRINTABLE = "^[^\\u0000-\\u001f\\u007f]*$"  # what guard.text_param accepts: no control characters


def text(max_length: int, description: str = "", *, min_length: int = 0) -> dict[str, Any]:
    """The schema of a text input: at most `max_length` characters, none of them a control character."""
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length, "pattern": PRINTABLE}
    if min_length:
        schema["minLength"] = min_length
    if description:
        schema["description"] = description
    return schema
