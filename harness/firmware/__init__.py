"""Firmware interfaces IOMMU drivers call (drivers/firmware/)."""
