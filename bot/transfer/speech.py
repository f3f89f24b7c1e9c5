"""The transfer commands' lines, written in both languages where they are said (like `qunguan forget`'s)."""

from __future__ import annotations

import typer

from bot.i18n import translate
from bot.textnorm import printable


def speak(language: str, chinese: str, english: str, *, err: bool = False) -> None:
    typer.echo(printable(english if language == "en" else chinese), err=err)


def refuse(language: str, detail: str, code: int = 2) -> typer.Exit:
    """A refusal or failure: one line saying nothing was changed, the detail as the database or tool said it."""
    said = translate(detail, language)
    speak(language, f"未完成，没有做任何修改：{said}", f"not done, nothing was changed: {detail}", err=True)
    return typer.Exit(code)
