"""The console's own JSON API (who am I, log out) and the OpenAPI document of the whole API: these paths and
every section's (bot/console/sections/)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.console.auth import Session
from bot.console.openapi import ERROR, READ, WRITE

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Qunguan console API", "version": "1"},
    "components": {
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "qunguan_session"},
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
        }
    },
    "paths": {
        "/api/me": {
            "get": {
                "summary": "The signed-in staff member: WeChat id, role, and the CSRF token writes must send",
                "security": READ,
                "responses": {
                    "200": {
                        "description": "the session",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["id", "role", "csrf"],
                                    "properties": {
                                        "id": {"type": "string"},
                                        "role": {"type": "string", "enum": ["staff", "admin", "owner"]},
                                        "csrf": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "401": {"description": "no session", "content": {"application/json": {"schema": ERROR}}},
                },
            }
        },
        "/api/logout": {
            "post": {
                "summary": "End the session (audited)",
                "security": WRITE,
                "responses": {
                    "200": {"description": "signed out"},
                    "401": {"description": "no session", "content": {"application/json": {"schema": ERROR}}},
                    "403": {"description": "no CSRF token", "content": {"application/json": {"schema": ERROR}}},
                },
            }
        },
    },
}


async def me(request: Request, session: Session) -> Response:
    return JSONResponse({"id": session.member_id, "role": session.role, "csrf": session.csrf})


async def openapi(request: Request) -> Response:
    """Public: it describes the API and holds no data."""
    return JSONResponse({**OPENAPI, "paths": {**OPENAPI["paths"], **request.app.state.openapi_paths}})
