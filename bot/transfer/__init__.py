"""Moving a shop's database: `qunguan migrate` (every row from one database into an empty one, checked), and
`qunguan backup` / `qunguan restore` (SQLite's online backup API, PostgreSQL's pg_dump and pg_restore)."""
