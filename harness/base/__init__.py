"""drivers/base: the driver core (core.c, bus.c, dd.c, platform.c)."""
