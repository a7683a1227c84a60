"""The package direction: fuzz -> mutators -> corpus -> harness, and nothing back.

The contract lives in pyproject.toml (``[tool.importlinter]``) and is checked
by import-linter, imports inside functions included.  The second test runs the
same contract on a fixture tree with one wrong-way import, to show the check
fails when it should.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())", "--no-cache"]


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    # a subprocess: the fixture's packages share the real packages' names
    return subprocess.run(LINT, cwd=cwd, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)


def test_packages_import_one_way() -> None:
    r = _lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 broken" in r.stdout


def _fixture(tmp: Path, imports: dict[str, str]) -> None:
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in contract["contracts"] if c["type"] == "layers")["layers"]
    lines = ["[tool.importlinter]", f"root_packages = {contract['root_packages']!r}".replace("'", '"'),
             "", "[[tool.importlinter.contracts]]", 'name = "one way"', 'type = "layers"',
             f"layers = {layers!r}".replace("'", '"'), ""]
    (tmp / "pyproject.toml").write_text("\n".join(lines))
    for pkg in contract["root_packages"]:
        (tmp / pkg).mkdir()
        (tmp / pkg / "__init__.py").write_text("")
        (tmp / pkg / "mod.py").write_text(imports.get(pkg, ""))


def test_a_wrong_way_import_breaks_the_contract(tmp_path: Path) -> None:
    right = tmp_path / "right"
    right.mkdir()
    _fixture(right, {"fuzz": "import mutators.mod\nimport harness.mod\n",
                     "mutators": "import corpus.mod\n", "corpus": "import harness.mod\n"})
    assert _lint(right).returncode == 0
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    # harness reaching up into mutators, inside a function (the old shapes import)
    _fixture(wrong, {"mutators": "import harness.mod\n",
                     "harness": "def f():\n    from mutators import mod\n    return mod\n"})
    r = _lint(wrong)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "one way BROKEN" in r.stdout
    assert "harness.mod -> mutators.mod" in r.stdout
