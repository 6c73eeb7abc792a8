"""Named SQL queries from sql/queries.sql (the procrastinate pattern): SQL lives in .sql files,
Python refers to it by name."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from .config import SQL_DIR

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse_named_queries(text: str) -> dict[str, str]:
    """Split a file of "-- name: x" blocks into {name: sql}. Leading comment lines stay in the SQL."""
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2]):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        sql = body.strip()
        if not sql:
            raise ValueError(f"query {name!r} is empty")
        queries[name] = sql
    return queries


@cache
def load(path: Path = SQL_DIR / "queries.sql") -> dict[str, str]:
    return parse_named_queries(path.read_text(encoding="utf-8"))


def query(name: str) -> str:
    """The SQL of the named query; KeyError names the missing query."""
    try:
        return load()[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in sql/queries.sql") from None
