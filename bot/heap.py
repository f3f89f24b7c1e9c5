"""The garbage collector's settings for a running bot: what CPython's defaults cost under a burst.

A started bot holds a few hundred thousand long-lived objects (SQLAlchemy's and pydantic's models, the playbooks,
Jinja's templates). With CPython's defaults a burst of messages ran a full collection every couple of thousand
events, each walking all of them: about 100 ms in which no event is handled (a p99 spike), some 12% of the CPU of
a first check-in. Its objects live for one batch (up to 100 events), long enough that the default first threshold
(700 allocations) promoted many of them, which is what triggered the full collections.

`settle()` runs once the bot is up, in the process that serves WeChat (`qunguan run`; the simulator, typed by
hand, needs no such care): what exists then is frozen out of
every later collection (gc.freeze), and the first threshold is raised so that a batch's objects die before a
collection sees them. Garbage is still collected; cycles made later are found as before. Not for tests or
one-shot commands: a frozen object is never collected until the next `settle()` (which lets the earlier ones go
first: the bench settles once per bot it starts, in one process). `python -m bot` has frozen its imports already
(bot/cli.py: main); settling unfreezes them with the rest and freezes again what is alive.
"""

from __future__ import annotations

import gc

YOUNG = 10_000  # allocations between young collections (CPython's default: 700)


def settle() -> None:
    """Collect what start-up left (and what an earlier settle froze that is garbage now), freeze the rest, and
    collect the young in larger steps."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)
