"""The README's configuration table lists exactly the environment variables the product reads: a
setting added in code without a row (or a row left behind after its setting went) fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT_DIRS = ("enrollment_core", "api", "dashboard", "enrollment_app")
# Read by ./dev (a shell script), not by Python: the ports it starts the apps on.
READ_BY_DEV = {"ENROLLMENT_APP_PORT", "DASHBOARD_PORT"}
# Read by uvicorn (under the API and under Streamlit): which proxies' X-Forwarded-For is believed.
READ_BY_UVICORN = {"FORWARDED_ALLOW_IPS"}
_NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")


def _env_name(node: ast.AST) -> str | None:
    """The variable's name when `node` reads one: os.environ.get("X"), os.getenv("X"),
    os.environ["X"], a config helper _env_int/_env_float/... ("X", ...), or a constant ENV_VAR = "X"."""
    arg: ast.expr | None = None
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        owner = func.value if isinstance(func, ast.Attribute) else None
        is_environ_get = name == "get" and (
            (isinstance(owner, ast.Attribute) and owner.attr == "environ")
            or (isinstance(owner, ast.Name) and owner.id == "environ")  # an environ= parameter
        )
        if is_environ_get or name == "getenv" or name.startswith("_env"):
            arg = node.args[0]
    elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
        if node.value.attr == "environ":
            arg = node.slice
    elif isinstance(node, ast.Assign):
        if any(isinstance(t, ast.Name) and ("ENV" in t.id or t.id.endswith("_VAR")) for t in node.targets):
            arg = node.value  # ENV_VAR = "X" or HOURS_VAR = "X", read through the constant
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _NAME.match(arg.value):
        return arg.value
    return None


def variables_read() -> set[str]:
    found = READ_BY_DEV | READ_BY_UVICORN
    for directory in PRODUCT_DIRS:
        for path in (ROOT / directory).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (name := _env_name(node)) is not None:
                    found.add(name)
    return found


def variables_documented() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split(" | ")[0])}


def test_the_readme_table_lists_every_variable_read_and_no_other() -> None:
    read, documented = variables_read(), variables_documented()
    assert len(read) > 30  # the scan found the settings at all
    assert sorted(read - documented) == [], "read by the product but missing from README's table"
    assert sorted(documented - read) == [], "in README's table but read by nothing"
