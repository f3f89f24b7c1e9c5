"""`qunguan schema`: the JSON Schema of playbooks (bot/playbook/schema.py), for editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file instead of stdout")] = None,
) -> None:
    """Print the JSON Schema of playbooks, for editor autocompletion."""
    from bot.playbook.schema import json_schema

    text = json.dumps(json_schema(), ensure_ascii=False, indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"wrote {output}")
