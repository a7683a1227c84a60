"""harness/sites: one registry of every guard site, core and driver, declared
in the module of its kernel file."""

from __future__ import annotations

import pkgutil

from harness import sites
from harness.sites import CORE, SITES, drivers


def test_core_sites_come_first_in_kernel_file_order_then_drivers_by_module() -> None:
    names = list(SITES)
    core = [s.name for m in CORE for s in m.SITES]
    assert names[:len(core)] == core
    mods = sorted(m.name for m in pkgutil.iter_modules(drivers.__path__))
    assert names[len(core):] == [s.name for m in mods
                                 for s in __import__(f"harness.sites.drivers.{m}",
                                                     fromlist=["SITES"]).SITES]


def test_each_core_module_declares_the_sites_of_its_kernel_files() -> None:
    files = {
        sites.iommu: {"drivers/iommu/iommu.c"},
        sites.of_iommu: {"drivers/iommu/of_iommu.c"},
        sites.acpi_scan: {"drivers/acpi/scan.c"},
        sites.of_device: {"drivers/of/device.c"},
        sites.acpi_dma: {"drivers/acpi/arm64/dma.c"},
        sites.bus: {"drivers/base/platform.c", "drivers/amba/bus.c", "drivers/pci/pci-driver.c",
                    "drivers/bus/fsl-mc/fsl-mc-bus.c", "drivers/cdx/cdx.c"},
    }
    assert set(files) == set(CORE)
    for mod, want in files.items():
        assert {s.file for s in mod.SITES} == want, mod.__name__


def test_site_names_are_unique_and_say_function_dot_what() -> None:
    declared = [s for m in CORE for s in m.SITES] + sites.collect()
    assert len(declared) == len(SITES)
    for s in SITES.values():
        assert s.name.split(".")[0] == s.function, s.name
        assert s.kind in ("guard", "choice")
        assert s.kind == "guard" or set(s.alternatives) >= {s.v614, s.next}, s.name
