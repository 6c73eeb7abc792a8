"""The named queries: one loader, names unique across files, every name the code asks for exists, and
every query defined is used somewhere (a query nobody runs is dead code that still looks maintained)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bench.common import BENCH_SQL
from enrollment_core.queries import QUERY_FILES, all_queries, load_file, parse_named_queries, query, sql_dir

ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("enrollment_core", "api", "dashboard", "enrollment_app", "bench")
LOADERS = {"query": lambda: set(all_queries()), "bench_query": lambda: set(load_file(BENCH_SQL))}


def _python_files() -> list[Path]:
    return [p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py")]


def _called_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _calls() -> list[tuple[str, str, ast.expr]]:
    """(loader, file:line, argument) of every call to a query loader."""
    calls = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args and _called_name(node) in LOADERS:
                calls.append((_called_name(node), f"{path.relative_to(ROOT)}:{node.lineno}", node.args[0]))
    return calls


def _used(loader: str) -> set[str]:
    """The names the code asks `loader` for by a literal: a real use, not any string that happens to
    spell a query's name (a column, a dictionary key)."""
    return {arg.value for name, _, arg in _calls() if name == loader and isinstance(arg, ast.Constant)}


def test_every_query_asked_for_exists_and_no_name_is_built_at_run_time() -> None:
    calls = _calls()
    assert len(calls) > 50
    for loader, where, arg in calls:
        assert not isinstance(arg, ast.JoinedStr), f"{where}: a name built at run time cannot be grepped"
        if isinstance(arg, ast.Constant):
            assert arg.value in LOADERS[loader](), f"{where}: {loader}({arg.value!r}) is not defined"


def test_every_named_query_is_used() -> None:
    unused = sorted(set(all_queries()) - _used("query"))
    unused += sorted(set(load_file(BENCH_SQL)) - _used("bench_query"))
    assert unused == [], f"named queries nothing uses: {unused}"


# A string that starts like a statement (uppercase keyword, then a space): SQL written in Python.
_STATEMENT = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|SET|WITH|VACUUM|EXPLAIN|TRUNCATE|LOCK|COPY)\s"
)


def test_no_sql_is_written_in_python() -> None:
    """Every statement of the product and the benchmarks is a named query of sql/ or bench/bench.sql
    (tests keep their own); Python only fills in values, or names through psycopg.sql where the
    statement takes no parameters."""
    written = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.strip()[:50]}"
        for path in _python_files()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _STATEMENT.match(node.value)
    ]
    assert written == [], "SQL in Python instead of a named query"
    assert _STATEMENT.match("SELECT 1") and _STATEMENT.match("\n    INSERT INTO t VALUES (1)")


def test_names_are_unique_across_files_and_each_file_ships_in_the_package() -> None:
    files = {name: file for name, (file, _) in all_queries().items()}
    assert set(files.values()) == set(QUERY_FILES)
    for file_name in QUERY_FILES:
        assert (sql_dir() / file_name).is_file()
    assert query("find_user").startswith("-- A registered user")
    with pytest.raises(ValueError, match="defined twice"):
        parse_named_queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")
    with pytest.raises(KeyError, match="no query named 'nope'"):
        query("nope")


def test_a_fragment_is_put_in_place_and_an_unknown_or_unused_one_is_an_error() -> None:
    text = (
        "-- fragment: live\n-- what it is\nstatus = 'in_progress'\n"
        "-- name: a\nSELECT 1 FROM t WHERE {{live}};\n-- name: b\nSELECT 2 FROM t WHERE {{live}} AND x;\n"
    )
    assert parse_named_queries(text) == {
        "a": "SELECT 1 FROM t WHERE status = 'in_progress';",
        "b": "SELECT 2 FROM t WHERE status = 'in_progress' AND x;",
    }
    with pytest.raises(ValueError, match=r"query 'a' uses \{\{nope\}\}, which is not a fragment"):
        parse_named_queries("-- name: a\nSELECT {{nope}};\n")
    with pytest.raises(ValueError, match=r"fragments no query uses: \['spare'\]"):
        parse_named_queries("-- fragment: spare\nx = 1\n-- name: a\nSELECT 1;\n")
    with pytest.raises(ValueError, match="fragment 'f' is defined twice"):
        parse_named_queries("-- fragment: f\nx\n-- fragment: f\ny\n-- name: a\nSELECT {{f}};\n")
    with pytest.raises(ValueError, match="fragment 'g' uses another fragment"):
        parse_named_queries("-- fragment: f\nx\n-- fragment: g\n{{f}}\n-- name: a\nSELECT {{f}}, {{g}};\n")
    assert "{{" not in "".join(sql for _, sql in all_queries().values())
