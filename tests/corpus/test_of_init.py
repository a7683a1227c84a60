"""corpus/of_init.py: DT providers the kernel initialises without a driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.initcalls import tree_version
from corpus.of_init import (
    CLK_OF_DECLARE,
    CLK_OF_DECLARE_DRIVER,
    FWNODE_DEV_INITIALIZED,
    IRQCHIP_DECLARE,
    file_entries,
    render_table,
    scan,
)

_DECLARES = """
CLK_OF_DECLARE(foo_osc, "vendor,osc", foo_osc_init);
CLK_OF_DECLARE_DRIVER(foo_cru,
\t\t      "vendor,cru", foo_cru_init);
IRQCHIP_DECLARE(foo_intc, "vendor,intc", foo_intc_init);
"""

_EARLY_GENPD = """
static const struct of_device_id foo_special[] __initconst = {
\t{ .compatible = "vendor,special" },
\t{ }
};
static const struct of_device_id foo_sysc_matches[] __initconst = {
\t{ .compatible = "vendor,sysc", .data = &foo_info },
\t{ }
};
static void __init get_special(void)
{
\tfor_each_matching_node_and_match(np, foo_special, &id)
\t\tadd(np);
}
static int __init foo_sysc_pd_init(void)
{
\tnp = of_find_matching_node_and_match(NULL, foo_sysc_matches, &match);
\tadd_domains(np);
\tfwnode_dev_initialized(of_fwnode_handle(np), true);
\treturn 0;
}
early_initcall(foo_sysc_pd_init);
"""


def test_declare_macros_name_their_compatibles() -> None:
    assert file_entries(_DECLARES) == [("vendor,osc", CLK_OF_DECLARE), ("vendor,cru", CLK_OF_DECLARE_DRIVER),
                                       ("vendor,intc", IRQCHIP_DECLARE)]


def test_an_initcall_marking_the_nodes_it_walks_initialised() -> None:
    """Only the table the initialising function walks, not another table of
    the file (rmobile-sysc's special_ids)."""
    assert file_entries(_EARLY_GENPD) == [("vendor,sysc", FWNODE_DEV_INITIALIZED)]


def test_a_driver_that_marks_its_node_initialised_is_not_listed() -> None:
    """A platform driver calling fwnode_dev_initialized() in its probe binds
    through the driver core: fw_devlink waits for it like any supplier."""
    drv = _EARLY_GENPD.replace("early_initcall(foo_sysc_pd_init);", "module_platform_driver(foo_driver);")
    assert file_entries(drv) == []
    assert file_entries(_EARLY_GENPD.replace(", true)", ", false)")) == []


@pytest.fixture(scope="module")
def tree_table(kernel_tree: Path) -> dict:
    return scan(kernel_tree)


@pytest.mark.kernel_tree
def test_checked_in_table_is_the_tree_s(kernel_tree: Path, tree_table: dict) -> None:
    text = render_table(tree_table, tree_version(kernel_tree))
    assert text == (Path(__file__).parents[2] / "harness/of/of_init_table.py").read_text()


@pytest.mark.kernel_tree
def test_real_tree_entries(tree_table: dict) -> None:
    # drivers/clk/clk-fixed-rate.c: CLK_OF_DECLARE(fixed_clk, "fixed-clock", ...)
    assert tree_table["fixed-clock"] == (CLK_OF_DECLARE, "drivers/clk/clk-fixed-rate.c")
    # drivers/clk/rockchip/clk-rk3568.c:1690
    assert tree_table["rockchip,rk3568-cru"][0] == CLK_OF_DECLARE
    assert tree_table["arm,gic-400"] == (IRQCHIP_DECLARE, "drivers/irqchip/irq-gic.c")
    # drivers/pmdomain/renesas/rcar-sysc.c:433, early_initcall(rcar_sysc_pd_init)
    assert tree_table["renesas,r8a7795-sysc"] == (FWNODE_DEV_INITIALIZED,
                                                  "drivers/pmdomain/renesas/rcar-sysc.c")
    # drivers/pmdomain/renesas/rmobile-sysc.c: for_each_compatible_node(..., "renesas,sysc-rmobile")
    assert tree_table["renesas,sysc-rmobile"][0] == FWNODE_DEV_INITIALIZED
    assert "arm,coresight-etm3x" not in tree_table  # rmobile-sysc's special_ids
    # a platform driver that registers a clock provider in its probe
    assert "qcom,gcc-sdm845" not in tree_table
