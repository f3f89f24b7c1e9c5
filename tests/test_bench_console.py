"""The bench's `console` group at a tiny size: both rows get a sample and a ratio, the console was really asked
for pages and API reads while the bot ran, and the client asked for every GET the OpenAPI document lists.

Speed itself is never judged here (`python -m bench --only console` is run by hand).
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest
from rich.console import Console

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench/ is a folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from bench import cli  # noqa: E402
from bot.console import api, sections  # noqa: E402

pytestmark = pytest.mark.slow


def test_a_tiny_console_run_measures_both_rows_while_the_console_serves_every_documented_read(
    tmp_path: Path,
) -> None:
    out = tmp_path / "results.json"
    screen = io.StringIO()
    cli.run(
        cli.parse(["--tiny", "--runs", "1", "--json", str(out), "--only", "console"]), Console(file=screen, width=250)
    )

    rows = {r["id"]: r for r in json.loads(out.read_text("utf-8"))["rows"]}
    off, loaded = rows["console_off"], rows["console_20rps"]
    for row in (off, loaded):
        assert row["error"] is None and len(row["samples"]) == 1, row
    assert isinstance(loaded["ratio"], float) and loaded["met"] in (True, False)
    (served,) = [run["console"] for run in loaded["detail"]["runs"]]
    assert served["requests"] >= 1 and served["server_errors"] == 0
    paths = {**api.OPENAPI["paths"], **sections.openapi_paths()}
    documented = [re.sub(r"\{\w+\}", "1", p) for p, item in paths.items() if "get" in item]
    assert served["paths"] == ["/", *documented]
    assert "console serving 20 requests/s" in screen.getvalue()
