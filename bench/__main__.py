"""`python -m bench`: measure, print the table, write the JSON."""

from bench.cli import main

main()
