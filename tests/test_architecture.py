"""The layering is enforced: the ingester and the portal are two processes over one core.

``lint-imports`` (import-linter) reads the contracts from ``pyproject.toml``. The second
test runs the same contracts over a small tree that breaks them, so the check itself is
known to fail when it should.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(cwd: Path, config: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _as_toml(settings: dict[str, Any]) -> str:
    """The ``[tool.importlinter]`` table back as TOML (flat values and one array of tables)."""

    def value(v: Any) -> str:
        return json.dumps(v)  # strings, booleans and lists of strings are the same in JSON and TOML

    lines = ["[tool.importlinter]"]
    lines += [f"{k} = {value(v)}" for k, v in settings.items() if k != "contracts"]
    for contract in settings["contracts"]:
        lines += ["", "[[tool.importlinter.contracts]]", *(f"{k} = {value(v)}" for k, v in contract.items())]
    return "\n".join(lines) + "\n"


def test_the_project_keeps_its_import_contracts() -> None:
    result = _lint(ROOT, ROOT / "pyproject.toml", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_contracts_catch_an_ingester_importing_the_portal(tmp_path: Path) -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    # the contracts between whole packages (the view-module one names modules this tree lacks)
    contracts["contracts"] = [
        c for c in contracts["contracts"] if "." not in "".join(c.get("modules", c.get("source_modules", [])))
    ]
    assert len(contracts["contracts"]) >= 3
    for package in contracts["root_packages"]:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "ingest" / "worker.py").write_text("import portal.views\n")
    (tmp_path / "portal" / "views.py").write_text("")
    (tmp_path / "fleet" / "status.py").write_text("from ingest import worker\n")
    config = tmp_path / "contracts.toml"
    config.write_text(_as_toml(contracts))
    result = _lint(tmp_path, config, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ingest.worker -> portal.views" in result.stdout
    assert "fleet.status -> ingest.worker" in result.stdout
