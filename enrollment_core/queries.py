"""Named SQL queries (the procrastinate pattern): SQL lives in .sql files shipped inside this package
(sql/), Python refers to each statement by a name that is unique across the files.

  sql/queries.sql     the enrollment flow, maintenance, demo data and the seed's monitoring queries
  sql/dashboard.sql   the dashboard's readers: live, bounded queries and the stored snapshot's figures
  sql/snapshot.sql    the figures the snapshot computes and stores (snapshot_*)
  sql/server.sql      the server and the connection: advisory locks, a transaction's settings, the
                      migration runner's bookkeeping, the embedded server's settings

Every name is written out where it is used (`query("find_user")`), never built at run time, so grep
finds each use; tests/test_queries.py checks that every name asked for exists and every query is used.

A part several queries of one file share (a filter, a column list) is written once as a
"-- fragment: <name>" block and put in place by "{{<name>}}" when the file is loaded: the SQL the
server gets is the same as if it were written out in each query (so are its plans). A fragment is local
to its file, holds no fragment itself, and must be used; an unknown or unused one is an error at load.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

# The files of named queries, in the package (an installed package finds them as well as a checkout).
QUERY_FILES = ("queries.sql", "dashboard.sql", "snapshot.sql", "server.sql")

_HEADER = re.compile(r"^--\s*(name|fragment):\s*(\w+)\s*$", re.MULTILINE)
_USE = re.compile(r"\{\{(\w+)\}\}")


def sql_dir() -> Path:
    """The top-level sql/ directory (named queries, schema.sql, migrations/): beside this package in a
    checkout (also an editable install); in an installed wheel it ships as the package data of
    enrollment_core.sql (pyproject.toml maps that package to sql/)."""
    here = Path(__file__).resolve().parent
    checkout = here.parent / "sql"
    return checkout if (checkout / "schema.sql").is_file() else here / "sql"


def parse_named_queries(text: str) -> dict[str, str]:
    """Split a file of "-- name: x" blocks into {name: sql}, with its "-- fragment: y" blocks put in
    place of each "{{y}}". Leading comment lines stay in a query's SQL (a fragment's are dropped: they
    describe it where it is written)."""
    parts = _HEADER.split(text)
    # parts = [preamble, kind1, name1, body1, kind2, name2, body2, ...]
    queries: dict[str, str] = {}
    fragments: dict[str, str] = {}
    for kind, name, body in zip(parts[1::3], parts[2::3], parts[3::3]):
        found = queries if kind == "name" else fragments
        if name in found:
            raise ValueError(f"{'query' if kind == 'name' else 'fragment'} {name!r} is defined twice")
        sql = body.strip()
        if kind == "fragment":
            sql = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--")).strip()
        if not sql:
            raise ValueError(f"{'query' if kind == 'name' else 'fragment'} {name!r} is empty")
        found[name] = sql
    for name, sql in fragments.items():
        if _USE.search(sql):
            raise ValueError(f"fragment {name!r} uses another fragment: write it out")
    used: set[str] = set()

    def fill(name: str, sql: str) -> str:
        def one(match: re.Match[str]) -> str:
            if match.group(1) not in fragments:
                raise ValueError(f"query {name!r} uses {match.group(0)}, which is not a fragment of its file")
            used.add(match.group(1))
            return fragments[match.group(1)]

        return _USE.sub(one, sql)

    queries = {name: fill(name, sql) for name, sql in queries.items()}
    if unused := sorted(set(fragments) - used):
        raise ValueError(f"fragments no query uses: {unused}")
    return queries


@cache
def load_file(path: Path) -> dict[str, str]:
    """The named queries of one file (also used by bench/ for its own bench.sql)."""
    return parse_named_queries(path.read_text(encoding="utf-8"))


@cache
def all_queries() -> dict[str, tuple[str, str]]:
    """{name: (file name, sql)} over QUERY_FILES; a name defined in two files is an error."""
    found: dict[str, tuple[str, str]] = {}
    for file_name in QUERY_FILES:
        for name, sql in load_file(sql_dir() / file_name).items():
            if name in found:
                raise ValueError(f"query {name!r} is defined in both {found[name][0]} and {file_name}")
            found[name] = (file_name, sql)
    return found


def query(name: str) -> str:
    """The SQL of the named query; KeyError names the missing query. It is the project's own SQL,
    shipped in the package, never built from input (values go in as parameters)."""
    try:
        return all_queries()[name][1]
    except KeyError:
        raise KeyError(f"no query named {name!r} in sql/{QUERY_FILES}") from None
