"""Several bot processes, one per WeChat account, sharing one database as one shop (docs/scale.md).

`settings.py` is config.yaml's `accounts:`, `fleet:` and `alerts:`; `tables.py` what the fleet keeps in the
database; `process.py` the duties each process runs on its heartbeat.
"""
