"""drivers/iommu: the IOMMU core, of_iommu and the IOMMU drivers."""
