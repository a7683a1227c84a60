"""The agreement table: device rows, title rows, what is not compared."""

from __future__ import annotations

from fuzz.validate.compare import compare, render
from fuzz.validate.console import ConsoleFinding, ConsoleReport
from fuzz.validate.model import ModelRun
from harness.findings import GROUP, WARNING, Finding

PCI = ["0000:00:00.0", "0000:00:01.0", "0000:00:02.0"]


def _real(groups: dict[int, list[str]], titles: tuple[str, ...] = (),
          complete: bool = True) -> ConsoleReport:
    return ConsoleReport([ConsoleFinding(WARNING, t, t.split()[-1]) for t in titles],
                         groups, complete=complete)


def _model(groups: dict[int, list[str]], findings: tuple[tuple[str, str], ...] = ()) -> ModelRun:
    return ModelRun([Finding(k, t, t.split()[-1], None, []) for k, t in findings], groups)


def test_same_members_under_other_group_numbers_agree() -> None:
    c = compare(_real({3: ["0000:00:01.0"], 4: ["0000:00:02.0"]}),
                _model({0: ["0000:00:02.0"], 1: ["0000:00:01.0"]}), PCI)
    assert c.agree
    assert [(r.device, r.real, r.model) for r in c.devices] == [
        ("0000:00:00.0", None, None), ("0000:00:01.0", ["0000:00:01.0"], ["0000:00:01.0"]),
        ("0000:00:02.0", ["0000:00:02.0"], ["0000:00:02.0"])]


def test_grouped_on_one_side_only_or_with_others_disagrees() -> None:
    c = compare(_real({0: ["0000:00:00.0"], 1: ["0000:00:01.0", "0000:00:02.0"]}),
                _model({1: ["0000:00:01.0"], 2: ["0000:00:02.0"]}), PCI)
    assert not c.agree
    assert [r.agree for r in c.devices] == [False, False, False]
    text = render(c)
    assert "0000:00:00.0  alone" in text and "DISAGREE" in text
    assert "with 0000:00:02.0" in text


def test_devices_outside_the_pci_list_that_either_side_grouped_get_rows() -> None:
    c = compare(_real({0: ["9050000.smmuv3"]}), _model({}), PCI[:1])
    assert [r.device for r in c.devices] == ["0000:00:00.0", "9050000.smmuv3"]
    assert not c.agree


def test_titles_compare_console_kinds_and_list_oracle_findings() -> None:
    c = compare(_real({}, ("WARNING in __iommu_probe_device",)),
                _model({}, ((WARNING, "WARNING in __iommu_probe_device"),
                            (GROUP, "device without IOMMU group"))), PCI)
    assert c.agree
    assert [(t.title, t.real, t.model) for t in c.titles] == [
        ("WARNING in __iommu_probe_device", True, True)]
    assert c.model_only == ["device without IOMMU group"]
    c = compare(_real({}), _model({}, ((WARNING, "WARNING in __iommu_probe_device"),)), PCI)
    assert not c.agree and "WARNING in __iommu_probe_device  no     yes    NO" in render(c)


def test_an_incomplete_boot_agrees_only_with_a_panicking_model() -> None:
    real = _real({}, complete=False)
    real.panicked = True
    assert not compare(real, _model({}), PCI).agree
    m = _model({})
    m.panicked = True
    assert compare(real, m, PCI).agree
