"""drivers/base/devres.c: managed allocations tied to a device's binding."""

from __future__ import annotations

from typing import Any

from harness import oracles
from harness.kernel import kfunc


class devres_alloc:  # noqa: N801
    """A ``devm_kmalloc()`` allocation: freed when its owner unbinds."""

    __slots__ = ("owner", "what", "freed", "__dict__")

    def __init__(self, owner: Any, what: str) -> None:
        self.owner = owner
        self.what = what
        self.freed = False


@kfunc
def devm_kmalloc(dev: Any, what: str) -> devres_alloc:
    """``devm_kmalloc(dev, size, gfp)``: ``dev_to_node(dev)`` dereferences dev."""
    _node = dev.numa_node  # alloc_dr(..., dev_to_node(dev)): faults on NULL dev
    dr = devres_alloc(dev, what)
    dev.devres_head.append(dr)
    return dr


@kfunc
def devres_release_all(dev: Any) -> None:
    """Free everything devm-allocated against ``dev`` (unbind, failed probe)."""
    for dr in reversed(dev.devres_head):
        dr.freed = True
        oracles.devres_freed(dr)
    dev.devres_head.clear()
