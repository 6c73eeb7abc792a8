"""The settings registry (enrollment_core/config.py) declares every environment variable the product
reads, and the README's configuration table lists exactly those: a setting added to the registry without
a row (or a row left behind after its setting went) fails here, and so does code that reads a variable
of its own instead of asking the registry."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from enrollment_core.config import READ_ELSEWHERE, Configuration, Settings

ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("enrollment_core", "api", "dashboard", "enrollment_app", "bench")
REGISTRY = ROOT / "enrollment_core" / "config.py"
_NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")


def _env_name(node: ast.AST) -> str | None:
    """The variable's name when `node` reads one: os.environ.get("X"), os.getenv("X"), os.environ["X"]
    or environ.get("X") on a mapping passed in."""
    arg: ast.expr | None = None
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        owner = func.value if isinstance(func, ast.Attribute) else None
        is_environ_get = name == "get" and (
            (isinstance(owner, ast.Attribute) and owner.attr == "environ")
            or (isinstance(owner, ast.Name) and owner.id == "environ")
        )
        if is_environ_get or name == "getenv":
            arg = node.args[0]
    elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
        if node.value.attr == "environ" and isinstance(node.ctx, ast.Load):
            arg = node.slice
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _NAME.match(arg.value):
        return arg.value
    return None


def variables_read_outside_the_registry() -> list[str]:
    found = []
    for directory in CODE_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            if path == REGISTRY:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (name := _env_name(node)) is not None:
                    found.append(f"{path.relative_to(ROOT)}: {name}")
    return found


def variables_documented() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split(" | ")[0])}


def test_the_readme_table_lists_every_variable_of_the_registry_and_no_other() -> None:
    declared, documented = Configuration.variables(), variables_documented()
    assert len(declared) > 40  # the registry's parts were all found
    assert sorted(declared - documented) == [], "declared in the registry but missing from README's table"
    assert sorted(documented - declared) == [], "in README's table but not declared in the registry"


def test_only_the_registry_reads_the_environment() -> None:
    # The scan itself works: the registry's own module reads through environ.get.
    assert "os.environ.get" in REGISTRY.read_text(encoding="utf-8")
    assert variables_read_outside_the_registry() == [], "read outside enrollment_core/config.py"


def test_every_declared_setting_is_read_from_its_variable() -> None:
    """Each declared variable reaches its setting: set to a value other than the default, it changes the
    configuration (a declaration with a typo in its name or a wrong parser fails here)."""
    defaults = Configuration()
    samples = {"DB_TRANSACTION_POOLING": "1", "API_ACCESS_LOG": "1", "DASHBOARD_BACKGROUND_CLEANUP": "0"}
    for name in sorted(Configuration.variables() - set(READ_ELSEWHERE)):  # those: ./dev's and uvicorn's
        read = Configuration.from_env({name: samples.get(name, "12345")})
        assert read != defaults, name
    assert Configuration.from_env({}).settings == Settings()
