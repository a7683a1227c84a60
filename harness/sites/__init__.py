"""Per-driver guard sites, one module per IOMMU driver that has any.

Each module defines ``SITES``: a list of :class:`harness.sites.site.Site`.  The
core sites live in :mod:`harness.variant`, which collects these after its
own, so adding a driver's sites means adding a module here and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil

from harness.sites import drivers
from harness.sites.site import Site


def collect() -> list[Site]:
    """Every module's ``SITES``, modules in name order (stable ids)."""
    out: list[Site] = []
    for info in sorted(pkgutil.iter_modules(drivers.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{drivers.__name__}.{info.name}")
        out.extend(getattr(mod, "SITES", []))
    return out
