"""tegra-smmu, probed through the Tegra memory controller, on a real 6.12
board: tegra210-p3450-0000 (Jetson Nano)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from harness.board import Board
from harness.findings import OOPS, Finding
from harness.iommu.drivers.tegra_smmu import MC_SOCS
from harness.variant import NEXT, V614, Variant
from tests.harness.iommu.drivers._probe_groups import boot, clients, dev_name, load

pytestmark = pytest.mark.kernel_tree

P3450 = "arch/arm64/boot/dts/nvidia/tegra210-p3450-0000.dts"
COMPAT = tuple(MC_SOCS)
LATE = "late IOMMU probe at driver bind, something fishy here!"


@pytest.fixture(scope="module")
def p3450(kernel_tree: Path) -> Board:
    return load(kernel_tree, P3450)


@pytest.fixture(scope="module")
def p3450_host1x(p3450: Board) -> Board:
    """The board with host1x's children as devices: host1x_probe() populates
    them itself (its node is no simple-bus); the model's of_platform_populate()
    descends into it when it says "simple-bus"."""
    p = copy.deepcopy(p3450)
    for n in p.nodes:
        if "nvidia,tegra210-host1x" in n.compatible:
            n.compatible = (*n.compatible, "simple-bus")
    return p


def _swgroup(p: Board, path: str) -> int:
    return p.node_map()[path].iommus[0].args[0]


def test_v614_one_group_per_swgroup_before_probe(p3450: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    b = boot(p3450, V614, monkeypatch)
    assert not_soft(b.result.findings) == []
    cl = clients(p3450, COMPAT)
    assert len(cl) >= 2
    groups = {_swgroup(p3450, q): b.group_at_probe[dev_name(q)] for q in cl}
    assert None not in groups.values()
    assert len(set(groups.values())) == len(groups)


def not_soft(findings: list[Finding]) -> list[Finding]:
    """Findings; invariant 17's duplicate-ID check, which 6.12's
    tegra_smmu_probe_device() -> tegra_smmu_configure() re-parse trips on every
    client, is a lint (Result.lints) and can never be one of them."""
    assert all(f.invariant != 17 for f in findings)
    return findings


def test_v614_probe_device_reparse_duplicates_the_swgroup(
        p3450: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    # of_iommu_configure() -> tegra_smmu_of_xlate() adds the swgroup, then the
    # replay's tegra_smmu_probe_device() re-parses "iommus" and
    # tegra_smmu_configure() calls of_xlate again: the ID is there twice
    b = boot(p3450, V614, monkeypatch)
    for q in clients(p3450, COMPAT):
        sw = _swgroup(p3450, q)
        assert b.ids_at_probe[dev_name(q)] == [sw, sw]
    # ... which the invariant-17 lint reports, once per client, in the re-parse
    assert [f for f in b.result.findings if f.invariant == 17] == []
    dups = [f for f in b.result.lints if f.invariant == 17]
    assert {f.device for f in dups} == {dev_name(q) for q in clients(p3450, COMPAT)}
    assert all(f.title == "iommu: duplicate IDs in fwspec in tegra_smmu_of_xlate" for f in dups)


def test_v614_display_controllers_share_the_display_group(
        p3450_host1x: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    b = boot(p3450_host1x, V614, monkeypatch)
    assert not_soft(b.result.findings) == []
    cl = clients(p3450_host1x, COMPAT)
    by_sw = {_swgroup(p3450_host1x, q): b.group_at_probe[dev_name(q)] for q in cl}
    # tegra210_groups[]: "display" = {TEGRA_SWGROUP_DC (1), TEGRA_SWGROUP_DCB (2)}
    assert by_sw[1] is not None and by_sw[1] == by_sw[2]
    others = [g for sw, g in by_sw.items() if sw not in (1, 2)]
    assert None not in others and len(set(others)) == len(others) and by_sw[1] not in others


@pytest.mark.parametrize("board", ["plain", "host1x"])
def test_next_boots_the_board(p3450: Board, p3450_host1x: Board, board: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    """NEXT results are recorded in docs/drivers/tegra-smmu.md."""
    p = p3450 if board == "plain" else p3450_host1x
    assert boot(p, NEXT, monkeypatch).result.stats["registered_instances"] == 1


def _next(site: str) -> Variant:
    return NEXT.with_values(f"next-{site}", "", **{site: "after_register"})


@pytest.mark.parametrize("site,fn", [("tegra_mc_probe.drvdata", "tegra_smmu_of_xlate"),
                                     ("tegra_smmu_probe.groups", "tegra_smmu_device_group"),
                                     ("tegra_smmu_probe.soc", "tegra_smmu_device_group"),
                                     ("tegra_smmu_probe.dev", "tegra_smmu_configure")])
def test_next_publishing_after_register_oopses_in_the_walk(
        p3450: Board, monkeypatch: pytest.MonkeyPatch, site: str, fn: str) -> None:
    r = boot(p3450, _next(site), monkeypatch).result
    [f] = [f for f in r.findings if f.kind == OOPS]
    assert f.title == f"BUG: kernel NULL pointer dereference in {fn}"
    assert "iommu_device_register" in f.trace and "tegra_mc_probe" in f.trace
    # the MC binds while of_platform_populate() adds the devices (arch_initcall)
    assert "of_platform_default_populate_init" in f.trace


def test_next_mc_smmu_after_register_probes_late(p3450: Board, monkeypatch: pytest.MonkeyPatch) -> None:
    # of_xlate stores mc->smmu (NULL) as priv; probe_device finds no SMMU and
    # returns -ENODEV; the clients are probed by their bind-time parse
    r = boot(p3450, _next("tegra_smmu_probe.mc_smmu"), monkeypatch).result
    assert [f for f in r.findings if f.kind == OOPS] == []
    assert {f.device for f in r.findings if f.message == LATE} == \
        {dev_name(q) for q in clients(p3450, COMPAT)}


@pytest.mark.parametrize("site", ["tegra_mc_probe.drvdata", "tegra_smmu_probe.mc_smmu",
                                  "tegra_smmu_probe.groups", "tegra_smmu_probe.soc",
                                  "tegra_smmu_probe.dev"])
def test_v614_publishing_after_register_is_harmless(
        p3450: Board, monkeypatch: pytest.MonkeyPatch, site: str) -> None:
    # V614: the registration walk finds no client with a fwspec; clients are
    # parsed at their bind, after the MC probe returned
    v = V614.with_values(f"v614-{site}", "", **{site: "after_register"})
    b = boot(p3450, v, monkeypatch)
    assert not_soft(b.result.findings) == []
    assert b.result.stats["grouped_clients"] == b.result.stats["clients"]
