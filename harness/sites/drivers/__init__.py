"""Guard sites of the IOMMU drivers, one module per driver that has any
(mirroring ``harness/iommu/drivers/``).

Each module defines ``SITES``: a list of :class:`harness.sites.site.Site`.
"""
