"""The serving process's garbage-collector settings (bot/heap.py): a burst runs no full collection over what the
bot loaded at start, and garbage made later is still collected.

Each case runs in a fresh interpreter: the collector's state is the process's, and pytest's own heap would
change when a full collection comes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A started bot's long-lived objects, then a burst: each event's objects live for its batch, and every new member
# leaves state behind (flood tracks, reply budgets) as a coupon drop's newcomers do. Prints the full collections
# and how many objects are frozen out of them.
BURST = """
import gc, json, sys
from collections import deque
from bot import heap

loaded = [{"model": i, "fields": [i]} for i in range(200_000)]
if sys.argv[1] == "settle":
    heap.settle()
full = []
gc.callbacks.append(lambda phase, info: phase == "stop" and info["generation"] == 2 and full.append(1))
members = {}
for batch in range(1_000):
    turns = [{"event": i, "steps": [i], "vars": {"member": {"id": i}}} for i in range(100)]
    for i in range(100):
        members[batch * 100 + i] = [deque([batch], maxlen=5)]
print(json.dumps({"full_collections": len(full), "frozen": gc.get_freeze_count()}))
"""

LATER_GARBAGE = """
import gc, json, weakref
from bot import heap

heap.settle()
class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a  # a cycle: only the collector frees it
gone = weakref.ref(a)
del a, b
gc.collect()
print(json.dumps({"collected": gone() is None, "enabled": gc.isenabled()}))
"""


def _run(code: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout)


def test_a_burst_of_new_members_runs_no_full_collection_over_the_loaded_bot() -> None:
    assert _run(BURST, "defaults")["full_collections"] >= 1  # what CPython's defaults do with the same burst
    settled = _run(BURST, "settle")
    assert settled["full_collections"] == 0
    assert settled["frozen"] >= 200_000  # the loaded objects: out of any full collection that still comes


def test_garbage_made_after_settling_is_still_collected() -> None:
    assert _run(LATER_GARBAGE) == {"collected": True, "enabled": True}


SETTLED_TWICE = """
import gc, json, weakref
from bot import heap

class Bot:
    pass
first = Bot()
first.me = first  # a cycle, alive when the process settles: frozen
heap.settle()
gone = weakref.ref(first)
del first  # that bot is closed; a second one starts in the same process (the bench)
heap.settle()
print(json.dumps({"collected": gone() is None}))
"""


def test_settling_again_lets_what_the_first_froze_go() -> None:
    assert _run(SETTLED_TWICE) == {"collected": True}
