"""qcom_iommu on the real apq8016-sbc (msm8916) board, and its order sites
read back from the real qcom_iommu.c."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.dt import load_platform_file
from harness.board import Board
from harness.findings import OOPS, WARNING
from harness.variant import NEXT, SITES, V614, Variant
from mutators.readback import read_value
from tests.harness.iommu.drivers._sites import patched_copy
from tests.harness.iommu.drivers.smmu_boards import boot, clients_of

pytestmark = pytest.mark.kernel_tree

APQ8016 = "arch/arm64/boot/dts/qcom/apq8016-sbc.dts"
SITE_NAMES = ("qcom_iommu_device_probe.drvdata", "qcom_iommu_device_probe.populate")


@pytest.fixture(scope="module")
def apq8016(kernel_tree: Path) -> Board:
    return load_platform_file(kernel_tree / APQ8016)


def _instances(p: Board) -> list[str]:
    return [n.path for n in p.nodes if n.available() and "qcom,msm-iommu-v1" in n.compatible]


def test_v614_one_group_per_client_and_context_banks_bound(apq8016: Board) -> None:
    r = boot(apq8016, V614)
    assert r.findings == [] and not r.panicked
    insts = _instances(apq8016)
    assert len(insts) == 2
    assert sorted(i.dev.of_node.full_name for i in r.registered) == sorted(insts)
    by_node = {d.of_node.full_name: d for d in r.devices.values() if d.of_node is not None}
    groups = []
    for inst in insts:
        # the context banks are the IOMMU's children, bound by qcom-iommu-ctx
        # before the IOMMU registered
        ctxs = [d for d in r.devices.values() if d.parent is by_node[inst]]
        assert ctxs and all(d.driver is not None and d.driver.name == "qcom-iommu-ctx" for d in ctxs)
        qi = by_node[inst].driver_data
        assert all(qi.ctxs[c.driver_data.asid] is c.driver_data for c in ctxs)
        for c in clients_of(apq8016, inst):
            if c.path not in by_node:
                continue  # created by its parent's driver, not by the model
            dev = by_node[c.path]
            assert dev.iommu_group is not None, c.path
            assert dev.iommu.iommu_dev is qi.iommu and dev.iommu.priv is qi
            assert dev.iommu.fwspec.ids == [r_.args[0] for r_ in c.iommus]
            groups.append(dev.iommu_group)
    # generic_device_group: every client alone in its own group
    assert len(groups) == 3 and len({id(g) for g in groups}) == 3
    assert all(len(g.devices) == 1 and g.owner_cnt == 1 for g in groups)


def test_drvdata_after_register_oopses_in_ctx_probe(apq8016: Board) -> None:
    """Positive control: the context banks bind during populate and read the
    parent's drvdata without a NULL check."""
    r = boot(apq8016, V614.with_values("t", "t", **{SITE_NAMES[0]: "after_register"}))
    assert r.panicked
    f = r.findings[0]
    assert f.kind == OOPS and f.function == "qcom_iommu_ctx_probe"
    assert "qcom_iommu_device_probe" in f.trace and "devm_of_platform_populate" in f.trace


def test_next_populate_after_register_warns_in_of_xlate(apq8016: Board) -> None:
    """ctxs[asid] still NULL when NEXT's walk runs of_xlate: WARN, -EINVAL."""
    r = boot(apq8016, NEXT.with_values("t", "t", **{SITE_NAMES[1]: "after_register"}))
    warns = [f for f in r.findings if f.kind == WARNING and f.function == "qcom_iommu_of_xlate"]
    assert warns and warns[0].message == "ctxs[asid] == NULL"
    assert "iommu_device_register" in warns[0].trace
    # V614 never runs of_xlate inside the walk
    assert boot(apq8016, V614.with_values("t", "t", **{SITE_NAMES[1]: "after_register"})).findings == []


@pytest.mark.parametrize("site", SITE_NAMES)
@pytest.mark.parametrize("alt", ["after_register", "before_register"])
def test_order_sites_read_back_from_the_real_tree(kernel_tree: Path, tmp_path: Path, site: str,
                                                  alt: str) -> None:
    v: Variant = V614.with_values("t", "t", **{site: alt})
    text = patched_copy(kernel_tree, tmp_path, v, SITES[site].file)
    for name in SITE_NAMES:
        assert read_value(SITES[name], text) == v.value(name), name
    orig = (kernel_tree / SITES[site].file).read_text()
    for name in SITE_NAMES:
        assert read_value(SITES[name], orig) == "before_register"
