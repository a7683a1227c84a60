"""corpus/initcalls.py: the initcall level each driver registers at, from the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.initcalls import DEVICE, file_level, ids, render_table, scan, tree_version
from harness.base.initcall import driver_initcall_level
from harness.base.initcall_table import CLIENT_INITCALLS
from harness.iommu.drivers import all_drivers

_EARLY_DRIVER = """
static const struct of_device_id foo_of_match[] = {
\t{ .compatible = "vendor,foo" },
\t{}
};
static const struct acpi_device_id foo_acpi_match[] = {
\t{ "VNDR0001", 0 },
\t{ }
};
static struct platform_driver foo_driver = { .probe = foo_probe };
static int __init foo_init(void)
{
\treturn platform_driver_register(&foo_driver);
}
subsys_initcall(foo_init);
"""


def test_file_level_reads_the_initcall_that_registers_the_driver() -> None:
    assert file_level(_EARLY_DRIVER) == "subsys"
    assert ids(_EARLY_DRIVER) == ["vendor,foo", "VNDR0001"]


def test_file_level_device_for_module_macros_and_none_without_a_driver() -> None:
    assert file_level(_EARLY_DRIVER.replace("subsys_initcall(foo_init);",
                                            "module_platform_driver(foo_driver);")) == DEVICE
    # an early initcall that registers no driver says nothing about the match table
    no_driver = _EARLY_DRIVER.replace("return platform_driver_register(&foo_driver);",
                                      "return 0;")
    assert file_level(no_driver) is None


@pytest.fixture(scope="module")
def tree_levels(kernel_tree: Path) -> dict:
    return scan(kernel_tree)


@pytest.mark.kernel_tree
def test_checked_in_table_is_the_tree_s(kernel_tree: Path, tree_levels: dict) -> None:
    text = render_table(tree_levels, tree_version(kernel_tree))
    assert text == (Path(__file__).parents[2] / "harness/base/initcall_table.py").read_text()


@pytest.mark.kernel_tree
def test_real_tree_levels(tree_levels: dict) -> None:
    # postcore_initcall(rockchip_pinctrl_drv_register), pinctrl-rockchip.c
    assert tree_levels["rockchip,rk3568-pinctrl"].level == "postcore"
    # subsys_initcall(gpi_init), drivers/dma/qcom/gpi.c
    assert tree_levels["qcom,sdm845-gpi-dma"].level == "subsys"
    assert tree_levels["INT3432"].file == "drivers/i2c/busses/i2c-designware-platdrv.c"
    # module_platform_driver(rk3x_i2c_driver): device level, not listed
    assert "rockchip,rk3399-i2c" not in tree_levels


@pytest.mark.kernel_tree
def test_iommu_driver_specs_agree_with_the_tree(tree_levels: dict) -> None:
    """The IOMMU drivers' hand-written levels are the tree's (a spec without an
    early entry in the table registers at device level, or has an init of its own)."""
    for spec in all_drivers():
        for c in spec.compatible:
            hit = tree_levels.get(c)
            if hit is not None and spec.make_driver is not None:
                assert spec.initcall == hit.level.removesuffix("_sync"), (spec.name, c, hit)


def test_driver_initcall_level_first_listed_id_wins() -> None:
    assert driver_initcall_level(("vendor,unknown",)) == "device"
    # subsys_initcall(regulator_fixed_voltage_init), drivers/regulator/fixed.c
    assert CLIENT_INITCALLS["regulator-fixed"][0] == "subsys"
    assert driver_initcall_level(("vendor,unknown", "regulator-fixed")) == "subsys"
