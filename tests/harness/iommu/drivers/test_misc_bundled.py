"""The bundled (shipped) platforms of the sun50i, apple-dart, omap and msm
families boot under V614 as their trees do: no kernel tree needed."""

from __future__ import annotations

import pytest

from corpus.bundled import load_bundled
from harness.variant import V614
from tests.harness.iommu.drivers import _misc_boards as mb

# board -> {client: IOMMU device it is probed through}
EXPECTED = {
    "sun50i-h6-orangepi-3": {"1100000.mixer": "30f0000.iommu",
                             "1c00000.video-codec-g2": "30f0000.iommu",
                             "1c0e000.video-codec": "30f0000.iommu"},
    # the Wi-Fi/Bluetooth functions the DT lists below port 0, found by the
    # root bus scan and mapped through port 0's DART ("iommu-map" <0x100 ...>)
    "t8103-j274": {"238200000.dma-controller": "235004000.iommu",
                   "0000:01:00.0": "681008000.iommu", "0000:01:00.1": "681008000.iommu"},
    "omap4-panda-es": {"ocp:dsp": "4a066000.mmu", "55020000.ipu": "55082000.mmu"},
    "qcom-apq8064-ifc6410": {"4300000.gpu": "7d00000.iommu",
                             "5100000.display-controller": "7600000.iommu"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_board_groups_every_client_before_its_driver_probes(name: str) -> None:
    r = mb.run(load_bundled(name), V614)
    assert r.result.findings == []
    for client, iommu in EXPECTED[name].items():
        at = r.at_probe[client]
        assert at.iommu_dev is not None and at.iommu_dev.dev.init_name == iommu, client
        assert at.group is not None and at.default_domain is not None, client
    st = r.result.stats
    assert st["grouped_clients"] == len(EXPECTED[name])
    assert st["clients"] == st["grouped_clients"]
