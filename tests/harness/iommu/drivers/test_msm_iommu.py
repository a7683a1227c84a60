"""msm_iommu on the IFC6410 (APQ8064) device tree of the 6.12 tree."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.board import Board
from harness.boot import BootConfig
from harness.variant import V614
from tests.harness.iommu.drivers import _misc_boards as mb

pytestmark = pytest.mark.kernel_tree

BOARD = "arch/arm/boot/dts/qcom/qcom-apq8064-ifc6410.dts"
GPU, MDP4 = "4300000.gpu", "5100000.display-controller"


@pytest.fixture(scope="module")
def board(kernel_tree: Path) -> Board:
    return mb.load(kernel_tree, BOARD)


def test_v614_every_client_is_in_its_own_group_before_its_driver_probes(board: Board) -> None:
    r = mb.run(board, V614)
    assert r.result.findings == []
    gpu, mdp = r.at_probe[GPU], r.at_probe[MDP4]
    # generic_device_group: one group per client, default domain set up
    assert gpu.group is not None and mdp.group is not None and gpu.group is not mdp.group
    assert gpu.default_domain is not None and mdp.default_domain is not None
    # find_iommu_for_dev(): the first instance on qcom_iommu_devices (list_add:
    # the last registered first) whose first ctx_list master is the device
    assert gpu.iommu_dev.dev.init_name == "7d00000.iommu"
    assert mdp.iommu_dev.dev.init_name == "7600000.iommu"
    # insert_iommu_master(): each instance got its own master (ctx_list was
    # empty), priv is the last one; MIDs in "iommus" order
    assert gpu.priv.mids == list(range(32)) and mdp.priv.mids == [0, 2]
    # the fwspec names the first instance; qcom_iommu_of_xlate() adds no IDs
    assert gpu.ids == () and mdp.ids == ()


def test_v614_masters_stay_on_the_instances(board: Board) -> None:
    b, _k = mb.boot(board, V614)
    try:
        from harness.iommu.drivers.msm_iommu import g

        lst = g().qcom_iommu_devices
        assert [i.dev.init_name for i in lst] == [
            "7d00000.iommu", "7c00000.iommu", "7600000.iommu", "7500000.iommu"]
        owners = {i.dev.init_name: [m.of_node.full_name for m in i.ctx_list] for i in lst}
        assert owners == {"7500000.iommu": ["/soc/display-controller@5100000"],
                          "7600000.iommu": ["/soc/display-controller@5100000"],
                          "7c00000.iommu": ["/soc/gpu@4300000"],
                          "7d00000.iommu": ["/soc/gpu@4300000"]}
    finally:
        mb.done()


def _without_ncb(board: Board) -> Board:
    nodes = [dataclasses.replace(n, props={k: v for k, v in n.props.items() if k != "qcom,ncb"})
             if "qcom,apq8064-iommu" in n.compatible else n for n in board.nodes]
    return dataclasses.replace(board, nodes=nodes)


def test_missing_qcom_ncb_fails_the_probe(board: Board) -> None:
    # fw_devlink=off: the clients probe without their IOMMUs
    r = mb.run(_without_ncb(board), V614, BootConfig(fw_devlink="off"))
    assert r.result.stats["registered_instances"] == 0
    assert r.at_probe[GPU].group is None and r.at_probe[MDP4].group is None


def test_missing_qcom_ncb_holds_the_clients_with_fw_devlink(board: Board) -> None:
    """fw_devlink=on with fw_devlink.strict=1 (iommus is an optional binding,
    linked only when strict): the IOMMUs matched a driver whose probe
    failed, so their "iommus" consumer links are never relaxed
    (fw_devlink_no_driver() relaxes only !can_match suppliers, core.c:1827)
    and device_links_check_suppliers() keeps the GPU and MDP4 from probing."""
    r = mb.run(_without_ncb(board), V614, BootConfig(fw_devlink="on", fw_devlink_strict=True))
    assert r.result.stats["registered_instances"] == 0
    assert GPU not in r.at_probe and MDP4 not in r.at_probe
    assert r.result.stats["deferred"] >= 2
