"""The console parser on real kernel logs (tests/data/validate/*.log).

``rk3568-odroid-m1-next-20250220.log``: the oops of the seed report (Odroid-M1,
linux-next with bcb81ac6ae3c), as the reporter pasted it (mail-wrapped
address, ``(P)`` frame marker).  The ``virt-*.log`` files are consoles of
``probefuzz validate`` boots on QEMU (6.12 + the variant), saved with
``--console-log``.
"""

from __future__ import annotations

from pathlib import Path

from corpus.dt import load_platform_file
from fuzz.validate.console import parse_console, strip_stamp
from harness.findings import OOPS
from harness.scenario import run_scenario
from harness.variant import NEXT

DATA = Path(__file__).resolve().parents[2] / "data" / "validate"
BOARDS = Path(__file__).resolve().parents[3] / "corpus" / "boards"


def _log(name: str) -> str:
    return (DATA / name).read_text()


def test_stamps_and_caller_ids_are_stripped() -> None:
    assert strip_stamp("[    1.234567] probefuzz: done\r\n") == "probefuzz: done"
    assert strip_stamp("[   12.000001][    T1] WARNING: CPU: 0") == "WARNING: CPU: 0"
    assert strip_stamp("no stamp here") == "no stamp here"


def test_rk3568_oops_is_titled_as_the_model_titles_it() -> None:
    r = parse_console(_log("rk3568-odroid-m1-next-20250220.log"))
    assert r.panicked and r.panic.startswith("Attempted to kill init!")
    assert not r.complete and r.groups == {}
    [f] = r.findings
    assert f.kind == OOPS
    assert f.trace[:3] == ["devm_kmalloc", "rk_iommu_of_xlate", "of_iommu_xlate"]
    assert f.trace[-1] == "ret_from_fork" and len(f.trace) == 26
    # devm_kmalloc is a generic frame: the title names its caller, like the
    # model's finding for the same board and patch
    assert f.title == "BUG: kernel NULL pointer dereference in rk_iommu_of_xlate"
    model = run_scenario(load_platform_file(BOARDS / "rk3568-odroid-m1.json"), NEXT)
    assert f.title in {m.title for m in model.findings}
