"""The local simulator (`qunguan run`'s embedded default): chat with the bot in a terminal, no WeChat account."""
