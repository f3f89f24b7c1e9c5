"""Real WeChat through a Wechaty puppet service, with python-wechaty 0.10.7 as the gRPC client.

Every quirk of that package is handled in this package and nowhere else (nothing else imports it):

- shims.py: importing it on Python 3.11 (urllib3 2 lost `get_host`; `PuppetOptions` must be hashable),
  its cache folder (`./.wechaty` unless CACHE_DIR is set first) and its loggers (which print tokens);
- link.py: `Wechaty.start()` swallows connection errors, so we drive the puppet ourselves: connecting,
  the first login (or one clear ConnectorError), reconnecting with backoff, the `ding` watchdog, and
  listening in arrival order (its `bot.on(...)` handlers run as concurrent tasks and reorder events);
- lookups.py: its Contact/Room pools go stale, so names, topics and friend flags come from the puppet,
  remembered in bounded caches timed by the connector's clock;
- connector.py: the Connector protocol: puppet events in (the bot's own echoed sends dropped, events
  caught by a link drop handled again after the next login), sends with real @-mentions, invitations,
  friend requests.
- messages.py: what a message carries (its kind, a link card's address, a picture's QR code read beside
  the other events, within size and time limits).
"""

from bot.connectors.wechaty.connector import SendFailed, WechatyConnector
from bot.connectors.wechaty.link import ConnectorError, LinkDown

__all__ = ["ConnectorError", "LinkDown", "SendFailed", "WechatyConnector"]
