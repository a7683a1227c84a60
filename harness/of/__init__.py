"""drivers/of: device nodes, of_platform_populate, of_dma_configure_id."""
