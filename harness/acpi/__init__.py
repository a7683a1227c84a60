"""drivers/acpi: acpi_dma_configure_id, acpi_iommu_configure_id, arm64 dma."""
