"""Bus types other than platform: amba, pci, fsl-mc, cdx (their dma_configure)."""
