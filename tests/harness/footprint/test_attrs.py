"""harness/footprint/attrs.py: the claims its tables make about the model's
code hold."""

from __future__ import annotations

import ast
import inspect

from harness import oracles
from harness.footprint.attrs import ELEMENTWISE
from harness.iommu import fw_refs


def test_every_use_of_a_per_device_table_records_its_entry() -> None:
    """The oracles' and fw_refs' tables keyed by device are read without an
    access of their own (ELEMENTWISE): every function of the model that
    uses one must record the device's entry (``_fp``/``fp_touch``) -- a
    new use without it fails here.  (The final checks run after the last
    step and are exempt.)"""
    attrs = {a for _, a in ELEMENTWISE}
    checked = 0
    for mod in (oracles, fw_refs):
        tree = ast.parse(inspect.getsource(mod))
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef) or fn.name.startswith("_final") or fn.name == "__init__":
                continue
            used = {n.attr for n in ast.walk(fn) if isinstance(n, ast.Attribute) and n.attr in attrs}
            if not used:
                continue
            src = ast.unparse(fn)
            for a in used:
                checked += 1
                assert f"'{a}'" in src and ("_fp(" in src or "fp_touch(" in src), (mod.__name__, fn.name, a)
    assert checked >= 10
