"""A Python model of the Linux driver core, IOMMU core and OF/ACPI DMA set-up.

The model follows the C of v6.14 (and the posted "iommu: Get DT/ACPI parsing
into the proper probe path" series) function by function, with kernel names,
so that a kernel developer can read it without translation.  Sub-packages
mirror the kernel tree: ``harness.base`` is ``drivers/base``,
``harness.iommu`` is ``drivers/iommu`` and so on.
"""
