"""Playbook files as the console edits them: which file an id names, the whole set checked with an edited text
(the loader `qunguan check` uses), and a save: checked, kept as a version, written atomically, swapped in as
/重载 does. With any problem nothing changes: not the file, not the versions, not the running set."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from bot.console import auth
from bot.console.guard import BadInput, Console
from bot.i18n import translate, translate_line
from bot.playbook.errors import Problem
from bot.playbook.fallback import Source, digest
from bot.playbook.library import SCENARIO_DIR, PlaybookSet, display_path, load_sources, playbook_files, read_folder
from bot.playbook.loader import MAX_FILE_BYTES
from bot.reload import read, request_reload, running_on
from bot.store import versions

if TYPE_CHECKING:
    from bot.config import Config
    from bot.store import Store

NEW_FILE = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*\.ya?ml$")
_locks: weakref.WeakKeyDictionary[Store, asyncio.Lock] = weakref.WeakKeyDictionary()


class NotFound(Exception):
    """No playbook or file by that id: 404 with this Chinese message."""


class Conflict(Exception):
    """The file changed on disk since the editor opened it: 409, nothing saved."""


@dataclass(frozen=True)
class Checked:
    """An edited text checked with the rest of the folder: its own problems (errors and warnings) and the errors
    it causes in other files (a coupon batch they use, gone), which those files did not have before."""

    playbooks: PlaybookSet
    own: list[Problem]
    elsewhere: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.elsewhere and not any(not p.warning for p in self.own)


def too_big(text: str) -> None:
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise BadInput(
            f"剧本太大（{size / 1024 / 1024:.1f} MB）：一个剧本文件最多 {MAX_FILE_BYTES // 1024 // 1024} MB，"
            "请检查是否粘贴了别的内容"
        )


def folder_of(console: Console) -> Path:
    if console.playbooks is None:
        raise NotFound("这个后台没有剧本文件夹，不能编辑剧本")
    return console.playbooks


def key_of(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def valid_key(key: str, folder: Path, *, new: bool) -> str:
    """A file inside the folder by its key (posix, relative): an existing playbook file, or with `new` a new
    name of plain letters; never outside the folder, never a scenario under tests/."""
    if key in {key_of(p, folder) for p in playbook_files(folder)}:
        return key
    parts = PurePosixPath(key).parts
    if not new or not NEW_FILE.match(key) or SCENARIO_DIR in parts[:-1]:
        raise NotFound(f"没有剧本文件「{key}」")
    return key


async def file_for(console: Console, ident: str, *, new: bool = False) -> str:
    """The file key an API id names: a file (welcome.yaml, faq/hours.yaml) or a running playbook's id."""
    folder = folder_of(console)
    if ident.endswith((".yaml", ".yml")):
        return valid_key(ident, folder, new=new)
    running = await playbook_set(console)
    playbook = running.get(ident) if running is not None else None
    keys = {display_path(p): key_of(p, folder) for p in playbook_files(folder)}
    if playbook is None or playbook.path not in keys:
        raise NotFound(f"没有剧本「{ident}」")
    return keys[playbook.path]


def current(folder: Path, key: str) -> str | None:
    try:
        return (folder / key).read_text(encoding="utf-8-sig")
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def check_text(folder: Path | None, config: Config, key: str, text: str) -> Checked:
    """The whole set with `text` as the file `key` (blocking: call it in a thread)."""
    sources = (read_folder(folder) if folder is not None else None) or []
    shown = display_path(folder / key) if folder is not None else key
    edited = Source(key, shown, text)
    keys = [s.key for s in sources]
    after = [edited if s.key == key else s for s in sources] if key in keys else [*sources, edited]
    loaded = load_sources(after, config)
    own = sorted(p for p in [*loaded.problems, *loaded.warnings] if p.location.path == shown)
    others = [p for p in loaded.problems if p.location.path != shown]
    before = set(load_sources(sources, config).problems) if others else set()  # the folder as it is: only if needed
    elsewhere = [p for p in others if p not in before]
    return Checked(loaded, own, elsewhere)


def problem_json(problem: Problem, language: str) -> dict[str, Any]:
    where = problem.location
    return {
        "path": where.path,
        "line": where.line,
        "col": where.col,
        "message": translate(problem.text, language),
        "warning": problem.warning,
    }


def checked_json(checked: Checked, language: str) -> dict[str, Any]:
    return {
        "ok": checked.ok,
        "problems": [problem_json(p, language) for p in checked.own],
        "elsewhere": [problem_json(p, language) for p in checked.elsewhere],
        "playbooks": [pb.id for pb in checked.playbooks.playbooks],
    }


def write_atomically(path: Path, text: str) -> None:
    """Temp file beside it, then rename: a reader (the bot's watch, an editor) sees the old or the new text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o777)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


async def save(
    console: Console, session: auth.Session, key: str, text: str, base: str | None, *, action: str
) -> dict[str, Any]:
    """Check the set with `text`, then keep a version, write the file and swap the set in; `base` is the hash of
    the text the editor started from (None: overwrite whatever is there). Refused with problems: nothing changed."""
    too_big(text)
    folder = folder_of(console)
    lock = _locks.setdefault(console.store, asyncio.Lock())
    async with lock:
        on_disk = await asyncio.to_thread(current, folder, key)
        if base is not None and (digest(on_disk) if on_disk is not None else "") != base:
            raise Conflict("文件在别处被改过了（有人直接改了文件或在另一个页面保存了）：请重新打开后再改，这次没有保存")
        checked = await asyncio.to_thread(check_text, folder, console.config, key, text)
        language = console.config.language
        if not checked.ok:
            return {"saved": False, **checked_json(checked, language)}
        if on_disk != await asyncio.to_thread(current, folder, key):
            raise Conflict("检查时文件在别处被改过了：请重新打开后再改，这次没有保存")
        await asyncio.to_thread(write_atomically, folder / key, text)
        by = f"console:{session.member_id}"
        now = console.clock.now()
        async with console.store.unit() as conn:
            kept = await versions.record(conn, {key: (text, digest(text))}, at=now, by=by)
            await auth.audit(conn, session, action, now, args=key)
        reloader = running_on(console.store)
        if reloader is not None and reloader.folder.resolve() == folder.resolve():
            outcome = await reloader.reload(f"console {action} by {session.member_id}", by=by)
            told = [translate_line(line, language) for line in outcome.lines()]
        else:
            async with console.store.unit() as conn:
                await request_reload(conn, now)
            told = ["已通知在运行的机器人重新读取剧本（一秒内生效）"]
        done = {"saved": True, "hash": digest(text), "versioned": bool(kept), "reload": told}
        return {**done, **checked_json(checked, language)}


async def playbook_set(console: Console) -> PlaybookSet | None:
    """What runs: the bot's set when it runs in this process, else the folder as a bot would load it."""
    reloader = running_on(console.store)
    if reloader is not None:
        return reloader.engine.playbooks
    if console.playbooks is None:
        return None
    return (await read(console.store, console.config, console.playbooks, "console")).outcome.playbooks
