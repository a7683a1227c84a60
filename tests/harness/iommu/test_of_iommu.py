"""harness/iommu/of_iommu.py: the fwspec of_iommu_configure() builds from
``iommus``, and a driver's -ENODEV from of_xlate recorded as a decline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from corpus.bundled import load_bundled
from harness import variant
from harness.boot import Boot, BootConfig
from harness.errno import ENODEV
from harness.iommu import fw_refs
from harness.kernel import set_kernel
from harness.of.node import of_phandle_args
from harness.variant import V614


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    set_kernel(None)
    variant.activate(V614)


@pytest.mark.parametrize("name", ["rk3568-odroid-m1", "sun50i-h6-orangepi-3"])
def test_fwspec_ids_are_the_iommus_specifier_cells(name: str) -> None:
    b = Boot(load_bundled(name), V614, BootConfig())
    b.run()
    checked = 0
    for dev in b.devices():
        np = dev.of_node
        if np is None or not np.desc.iommus or dev.iommu is None or dev.iommu.fwspec is None:
            continue
        want = [c for r in np.desc.iommus for c in r.args]
        assert list(dev.iommu.fwspec.ids) == want, dev
        checked += 1
    assert checked > 0


def test_an_of_xlate_enodev_is_a_decline_until_the_next_success() -> None:
    b = Boot(load_bundled("rk3568-odroid-m1"), V614, BootConfig())
    b.run()
    dev = next(d for d in b.devices() if d.of_node is not None and d.of_node.desc.iommus)
    ref = dev.of_node.desc.iommus[0]
    spec = of_phandle_args(b.kernel.globals["of_root"].by_path[ref.iommu], tuple(ref.args))
    assert any(i.fwnode.np.full_name == ref.iommu for i in fw_refs.referenced_instances(dev))
    fw_refs.of_xlate_result(dev, spec, -ENODEV)
    assert all(i.fwnode.np.full_name != ref.iommu for i in fw_refs.referenced_instances(dev))
    fw_refs.of_xlate_result(dev, spec, 0)
    assert any(i.fwnode.np.full_name == ref.iommu for i in fw_refs.referenced_instances(dev))
