"""fuzz/cli.py: a command line imports only its verb's module (start-up time),
and the verb table still lists and parses every verb."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fuzz.cli import VERBS, build_parser, verb_of

ROOT = Path(__file__).resolve().parents[2]

# Runs main() on a command line in a fresh interpreter and reports which
# verb modules (and whether matplotlib) ended up imported.
_PROBE = r"""
import json, sys, contextlib, io
from fuzz.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        status = main(sys.argv[1:])
    except SystemExit as e:
        status = e.code
mods = sorted(m for m in sys.modules if m.startswith("fuzz.commands."))
print(json.dumps({"status": status, "out": out.getvalue(), "verbs": mods,
                  "matplotlib": "matplotlib" in sys.modules}))
"""


def _probe(*argv: str) -> dict[str, object]:
    r = subprocess.run([sys.executable, "-c", _PROBE, *argv], cwd=ROOT, capture_output=True,
                       text=True, timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_help_lists_every_verb_without_importing_any() -> None:
    got = _probe("--help")
    assert got["status"] == 0
    for verb, (_mod, help_) in VERBS.items():
        assert verb in str(got["out"]) and help_.split()[0] in str(got["out"])
    assert got["verbs"] == [] and got["matplotlib"] is False


def test_a_verb_imports_its_own_module_only_and_no_plotting() -> None:
    got = _probe("variants", "--help")
    assert got["status"] == 0 and "--depth" in str(got["out"])
    assert got["verbs"] == ["fuzz.commands.variants"]
    assert got["matplotlib"] is False


def test_the_verb_is_the_first_word_that_is_not_an_option() -> None:
    assert verb_of(["--version"]) is None
    assert verb_of(["fuzz", "--engine", "native", "b"]) == "fuzz"
    assert verb_of(["-h", "explore"]) == "explore"
    assert verb_of(["--", "fuzz"]) is None


def test_every_verb_still_has_its_arguments() -> None:
    parser, modules = build_parser(every_verb=True)
    assert set(modules) == set(VERBS)
    args = parser.parse_args(["fuzz", "--engine", "native", "--runs", "3", "rk3568-odroid-m1"])
    assert args.verb == "fuzz" and args.runs == 3
