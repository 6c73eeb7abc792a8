"""The SQL lives at the top of the repository (sql/) and ships inside the installed package: a wheel built
from this checkout holds every .sql file as enrollment_core/sql/, and its loader finds them there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_ships_the_top_level_sql_and_its_loader_finds_it(tmp_path: Path) -> None:
    # Built from a copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    for folder in ("sql", "enrollment_core", "api", "enrollment_app", "dashboard"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
         "--wheel-dir", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    [wheel] = (tmp_path / "dist").glob("*.whl")
    shipped = {name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".sql")}
    sql = ROOT / "sql"
    in_checkout = {f"enrollment_core/sql/{p.relative_to(sql)}" for p in sql.rglob("*.sql")}
    assert shipped == in_checkout and "enrollment_core/sql/schema.sql" in shipped

    # Installed without the checkout beside it, the loader reads the package's copy.
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    found = subprocess.run(
        [sys.executable, "-c", "from enrollment_core.queries import sql_dir, query; "
         "print(sql_dir()); print(len(query('find_user')) > 0)"],
        check=True, capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(target)},
    ).stdout.split()  # fmt: skip
    assert found == [str(target / "enrollment_core" / "sql"), "True"]
