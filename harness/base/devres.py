"""drivers/base/devres.c: managed allocations tied to a device's binding."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from harness import trace
from harness.footprint import fp_write
from harness.kernel import kfunc

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device

T = TypeVar("T")


class devres:  # noqa: N801
    """One ``devres`` record: the allocation and the device that owns it."""

    __slots__ = ("owner", "obj", "freed")

    def __init__(self, owner: Any, obj: Any) -> None:
        self.owner = owner
        self.obj = obj
        self.freed = False


@kfunc
def devm_kmalloc(dev: device, struct: type[T]) -> T:
    """``devm_kzalloc(dev, sizeof(struct), GFP_KERNEL)``.

    ``alloc_dr(..., dev_to_node(dev))`` reads ``dev->numa_node`` first: a
    NULL ``dev`` faults here, as in the RK3568 report.
    """
    _node = dev.numa_node  # noqa: F841 - the dereference is the point
    obj = struct()
    fp_write(dev, "devres_head")
    dev.devres_head.append(devres(dev, obj))
    return obj


class devm_action:  # noqa: N801
    """A ``devm_add_action()`` record: ``fn(data)`` runs when it is released."""

    __slots__ = ("fn", "data")

    def __init__(self, fn: Any, data: Any) -> None:
        self.fn = fn
        self.data = data


@kfunc
def devm_add_action(dev: device, fn: Any, data: Any) -> int:
    _node = dev.numa_node  # noqa: F841 - devres_alloc() + devres_add(dev, ...)
    fp_write(dev, "devres_head")
    dev.devres_head.append(devres(dev, devm_action(fn, data)))
    return 0


@kfunc
def devres_release_all(dev: device) -> None:
    """Free everything devm-allocated against ``dev`` (unbind, failed probe)."""
    for dr in reversed(dev.devres_head):
        if isinstance(dr.obj, devm_action):
            dr.obj.fn(dr.obj.data)
        dr.freed = True
        trace.devres_freed(dr)
    fp_write(dev, "devres_head")
    dev.devres_head.clear()
