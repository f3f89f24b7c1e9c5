"""Speed figures of Qunguan against the targets of issue 6: `python -m bench` (see bench/README.md)."""
