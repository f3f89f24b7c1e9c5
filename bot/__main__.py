"""`python -m bot`: the `qunguan` command (bot/cli.py)."""

import gc

gc.disable()  # importing builds only what lives as long as the process: nothing to collect (main() turns it on)

from bot.cli import main  # noqa: E402

main()
