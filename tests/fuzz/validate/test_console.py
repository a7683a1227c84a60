"""The console parser on real kernel logs (tests/data/validate/*.log).

``rk3568-odroid-m1-next-20250220.log``: the oops of the seed report (Odroid-M1,
linux-next with bcb81ac6ae3c), as the reporter pasted it (mail-wrapped
address, ``(P)`` frame marker).  The ``virt-*.log`` files are consoles of
``probefuzz validate`` boots on QEMU (6.12 + the variant), saved with
``--console-log``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.dt import load_platform_file
from fuzz.validate.console import parse_console, strip_stamp
from harness.findings import OOPS, WARNING
from harness.run import run_scenario
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


def test_a_clean_boot_lists_groups_and_drivers_and_no_finding() -> None:
    r = parse_console(_log("virt-smmuv3-V614.log"))
    assert r.complete and not r.panicked and r.findings == []
    assert r.version == "6.12.118+"
    assert sorted(r.groups.values()) == [["0000:00:01.0"], ["0000:00:02.0"], ["0000:00:03.0"]]
    assert r.group_of("0000:00:02.0") == ["0000:00:02.0"]
    assert r.group_of("0000:00:00.0") is None and r.group_of("0000:00:04.0") is None
    assert r.drivers["0000:00:01.0"] == "virtio-pci" and r.drivers["0000:00:04.0"] is None
    assert r.buses["9050000.smmuv3"] == "platform" and r.drivers["9050000.smmuv3"] == "arm-smmu-v3"
    assert r.buses["9000000.pl011"] == "amba"


@pytest.mark.parametrize("log, devices", [
    ("virt-smmuv3-NEXT.log", ["0000:00:01.0", "0000:00:02.0", "0000:00:03.0"]),
    ("virt-viommu-NEXT.log", ["0000:00:02.0", "0000:00:03.0", "0000:00:04.0"]),
])
def test_late_probe_warnings_carry_message_device_and_trace(log: str, devices: list[str]) -> None:
    r = parse_console(_log(log))
    assert r.complete
    assert [f.kind for f in r.findings] == [WARNING] * 3
    assert [f.device for f in r.findings] == devices
    for f in r.findings:
        assert f.title == "WARNING in __iommu_probe_device"
        assert f.location == "drivers/iommu/iommu.c:442"
        assert f.message.endswith("late IOMMU probe at driver bind, something fishy here!")
        # from the deferred-probe worker: the drivers' first probes deferred
        assert f.trace[:4] == ["__iommu_probe_device", "iommu_probe_device",
                               "of_iommu_configure", "of_dma_configure_id"]
        assert "deferred_probe_work_func" in f.trace and f.trace[-1] == "ret_from_fork"


def test_the_virtio_iommu_itself_is_in_no_group() -> None:
    r = parse_console(_log("virt-viommu-V614.log"))
    assert r.complete and r.findings == []
    assert r.drivers["0000:00:01.0"] == "virtio-pci"
    assert r.group_of("0000:00:01.0") is None
    assert sorted(r.groups.values()) == [["0000:00:02.0"], ["0000:00:03.0"], ["0000:00:04.0"]]


def test_a_boot_cut_short_is_incomplete() -> None:
    text = _log("virt-smmuv3-NEXT.log")
    r = parse_console(text[: text.index("probefuzz: iommu_group")])
    assert not r.complete and r.groups == {} and len(r.findings) == 3
