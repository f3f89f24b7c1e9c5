"""The console's 玩法 section: 开关、编辑、测试、版本与回滚.

Switching a playbook is /启用 and /停用, saving and rolling back is /重载: each needs that command's role
(`guarded_as`), is audited, and reaches a bot running in this process at once, or one running elsewhere on the
same database through a reload request (as `qunguan reload`)."""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.console import auth, views
from bot.console.guard import (
    BadInput,
    Console,
    command_role,
    console_of,
    error,
    guarded,
    guarded_as,
    json_body,
)
from bot.console.playbook_api import PATHS
from bot.console.playbook_files import (
    Conflict,
    NotFound,
    check_text,
    checked_json,
    current,
    file_for,
    folder_of,
    playbook_set,
    problem_json,
    save,
    too_big,
)
from bot.console.playbook_runs import (
    day_before,
    file_versions,
    related,
    result_json,
    run_counts,
    run_tests,
    scenarios,
    version_text,
)
from bot.console.section import Section
from bot.playbook.fallback import digest
from bot.playbook.library import display_path, playbook_files
from bot.playbook.schema import json_schema
from bot.registry import RANK
from bot.reload import request_reload, running_on
from bot.store.switches import load_switches, set_switch

if TYPE_CHECKING:
    from bot.store import Store

Handler = Callable[[Request, auth.Session], Awaitable[Response]]
MAX_SCENARIOS = 100
UNSAVED = "(未保存).yaml"  # the key a text without a file is checked as: no file of the folder has it
_testing: weakref.WeakKeyDictionary[Store, asyncio.Lock] = weakref.WeakKeyDictionary()


def answers_errors(handler: Handler) -> Handler:
    """NotFound -> 404, Conflict -> 409, in Chinese."""

    @functools.wraps(handler)
    async def run(request: Request, session: auth.Session) -> Response:
        try:
            return await handler(request, session)
        except NotFound as exc:
            return error(str(exc), 404)
        except Conflict as exc:
            return error(str(exc), 409)

    return run


def may(console: Console, session: auth.Session, command: str) -> bool:
    return RANK[session.role] >= RANK[command_role(console.config, command)]


def text_of(body: dict[str, Any], name: str = "text", *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise BadInput(f"{name} 应是文本")
    too_big(value)
    return value


@guarded("staff")
async def page(request: Request, session: auth.Session) -> Response:
    return views.render(request, "playbooks.html", session=session, title="玩法")


@guarded("staff")
async def edit_page(request: Request, session: auth.Session) -> Response:
    return views.render(request, "playbooks_edit.html", session=session, title="编辑剧本")


@guarded("staff")
async def listing(request: Request, session: auth.Session) -> Response:
    console = console_of(request)
    running = await playbook_set(console)
    counts = await console.reader.run(run_counts(day_before(console.clock.now())))
    async with console.store.unit() as conn:
        switches = await load_switches(conn)
    reloader = running_on(console.store)
    if reloader is not None:
        switches = {**switches, **reloader.engine.switches}
    folder = console.playbooks
    keys = {display_path(p): p.relative_to(folder).as_posix() for p in playbook_files(folder)} if folder else {}
    language = console.config.language
    rows = []
    for pb in running.playbooks if running is not None else []:
        runs = counts.get(pb.id, {"last_run": None, "runs": 0, "failures": 0})
        rows.append(
            {
                "id": pb.id,
                "title": pb.title,
                "file": keys.get(pb.path, pb.path),
                "on": switches.get(pb.id, pb.enabled),
                "old_version": pb.path in running.fallbacks,
                **runs,
            }
        )
    problems = [problem_json(p, language) for p in running.problems] if running is not None else []
    return JSONResponse(
        {
            "playbooks": rows,
            "files": sorted(keys.values()),
            "problems": problems,
            "editable": folder is not None,
            "can_save": may(console, session, "重载"),
            "can_enable": may(console, session, "启用"),
            "can_disable": may(console, session, "停用"),
        }
    )


@functools.cache
def _schema() -> dict[str, Any]:
    return json_schema()


@guarded("staff")
async def schema(request: Request, session: auth.Session) -> Response:
    return JSONResponse(_schema())


@guarded("staff")
@answers_errors
async def check(request: Request, session: auth.Session) -> Response:
    """The text checked as the file `file` (none: as a new file) with the rest of the folder."""
    console = console_of(request)
    body = await json_body(request)
    text = text_of(body)
    assert text is not None
    key = body.get("file")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 300):
        raise BadInput("file 应是剧本文件名")
    if key is None:
        key = UNSAVED
    elif console.playbooks is not None:
        key = await file_for(console, key, new=True)
    checked = await asyncio.to_thread(check_text, console.playbooks, console.config, key, text)
    return JSONResponse(checked_json(checked, console.config.language))


@guarded("staff")
@answers_errors
async def file(request: Request, session: auth.Session) -> Response:
    console = console_of(request)
    key = await file_for(console, request.path_params["id"])
    folder = folder_of(console)
    text = await asyncio.to_thread(current, folder, key)
    running = await playbook_set(console)
    ids = [pb.id for pb in running.playbooks if pb.path == display_path(folder / key)] if running else []
    found = scenarios(folder)
    return JSONResponse(
        {
            "file": key,
            "text": text or "",
            "hash": digest(text) if text is not None else "",
            "playbooks": ids,
            "scenarios": [{"name": s, "related": related(s, key, ids)} for s in found],
        }
    )


@guarded_as("重载")
@answers_errors
async def put(request: Request, session: auth.Session) -> Response:
    console = console_of(request)
    body = await json_body(request)
    text = text_of(body)
    assert text is not None
    base = body.get("base")
    if base is not None and not isinstance(base, str):
        raise BadInput("base 应是打开时文件的哈希")
    key = await file_for(console, request.path_params["id"], new=True)
    done = await save(console, session, key, text, base, action="console.save")
    return JSONResponse(done, 200 if done["saved"] else 422)


@guarded("staff")
@answers_errors
async def history(request: Request, session: auth.Session) -> Response:
    console = console_of(request)
    key = await file_for(console, request.path_params["id"])
    return JSONResponse({"file": key, "versions": await console.reader.run(file_versions(key))})


@guarded_as("重载")
@answers_errors
async def rollback(request: Request, session: auth.Session) -> Response:
    console = console_of(request)
    body = await json_body(request)
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 < version < 2**62:
        raise BadInput("version 应是版本编号")
    key = await file_for(console, request.path_params["id"])
    text = await console.reader.run(version_text(key, version))
    if text is None:
        raise NotFound(f"「{key}」没有编号 {version} 的版本")
    done = await save(console, session, key, text, None, action="console.rollback")
    return JSONResponse(done, 200 if done["saved"] else 422)


async def _switch(request: Request, session: auth.Session, enabled: bool) -> Response:
    console = console_of(request)
    ident = request.path_params["id"]
    running = await playbook_set(console)
    if running is None or running.get(ident) is None:
        raise NotFound(f"没有剧本「{ident}」")
    now = console.clock.now()
    reloader = running_on(console.store)
    async with console.store.unit() as conn:
        await set_switch(conn, ident, enabled, session.member_id, now)
        await auth.audit(conn, session, "console.enable" if enabled else "console.disable", now, target_id=ident)
        if reloader is None:
            await request_reload(conn, now)  # a bot elsewhere on this database reads the switches with it
    if reloader is not None:
        reloader.engine.switches[ident] = enabled
    return JSONResponse({"id": ident, "on": enabled})


@guarded_as("启用")
@answers_errors
async def enable(request: Request, session: auth.Session) -> Response:
    return await _switch(request, session, True)


@guarded_as("停用")
@answers_errors
async def disable(request: Request, session: auth.Session) -> Response:
    return await _switch(request, session, False)


@guarded("staff")
@answers_errors
async def test(request: Request, session: auth.Session) -> Response:
    """The file's text (as edited, unsaved) against chosen scenario files and a typed scenario, off the loop."""
    console = console_of(request)
    body = await json_body(request)
    text, typed = text_of(body, required=False), text_of(body, "scenario", required=False)
    names = body.get("scenarios", [])
    if not isinstance(names, list) or len(names) > MAX_SCENARIOS or not all(isinstance(n, str) for n in names):
        raise BadInput("scenarios 应是场景文件名的列表")
    key = await file_for(console, request.path_params["id"])
    folder = folder_of(console)
    known = set(scenarios(folder))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BadInput(f"没有场景文件「{unknown[0]}」")
    if not names and typed is None:
        raise BadInput("请选择场景文件或输入一个场景")
    if text is None:
        text = await asyncio.to_thread(current, folder, key) or ""
    checked = await asyncio.to_thread(check_text, folder, console.config, key, text)
    if not checked.ok:
        return JSONResponse({"ran": False, "results": [], **checked_json(checked, console.config.language)}, 422)
    lock = _testing.setdefault(console.store, asyncio.Lock())
    if lock.locked():
        return error("已有一个测试在运行，请稍候再试", 429)
    async with lock:
        results, problems = await asyncio.to_thread(run_tests, folder, names, typed, checked.playbooks, console.config)
    language = console.config.language
    return JSONResponse(
        {
            "ran": True,
            "results": [result_json(r) for r in results],
            "scenario_problems": [problem_json(p, language) for p in problems],
            **checked_json(checked, language),
        }
    )


SECTION = Section(
    "玩法",
    "/playbooks",
    "开关、编辑、测试、版本与回滚",
    routes=[
        Route("/playbooks", page),
        Route("/playbooks/edit", edit_page),
        Route("/api/playbooks", listing),
        Route("/api/schema", schema),
        Route("/api/check", check, methods=["POST"]),
        Route("/api/playbooks/{id:path}/versions", history),
        Route("/api/playbooks/{id:path}/rollback", rollback, methods=["POST"]),
        Route("/api/playbooks/{id:path}/enable", enable, methods=["POST"]),
        Route("/api/playbooks/{id:path}/disable", disable, methods=["POST"]),
        Route("/api/playbooks/{id:path}/test", test, methods=["POST"]),
        Route("/api/playbooks/{id:path}", file, methods=["GET"]),
        Route("/api/playbooks/{id:path}", put, methods=["PUT"]),
    ],
    paths=PATHS,
)
