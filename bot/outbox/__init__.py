"""The durable outbox: every message the bot decides to send is a database row first.

The engine writes an event's messages (one executemany) inside the transaction
that decided them, so they exist exactly when the event's other writes do. A
delivery worker then sends them one at a time, as the governor allows:

    pending -> sending (committed before connector.send is called) -> sent
                      -> pending again (an error: retry after a backoff; a refusal: after the pause)
                      -> failed (still failing after `retries`)
    sending found at start -> unknown, never resent

A process that dies during a send leaves its row `sending`. WeChat cannot tell
us whether that message went out, and a message sent twice is worse than one in
doubt, so such rows are logged and kept as `unknown` (at most once). Nothing
`pending` is ever lost: it is sent after the next start.

With pacing off (TestBot, scenarios without `governor: true`, the simulator)
there is no worker: an event's rows are sent before `dispatch` returns, through
the same table and the same states.

Here: `queue.py` writes the rows (the Outbox the engine calls: what a row
holds, its kind, the reply budget); `delivery.py` sends them (one pass:
claim, send, retry, expire); `worker.py` is the task that runs the passes
(wake, sleep, settle, stop); `rows.py` is a row as delivery reads it
back and records it; `removals.py` and `announcements.py` follow up the acts
on a group that WeChat may refuse (`outcomes.py`: what they share).
"""

from bot.outbox.queue import Outbox

__all__ = ["Outbox"]
