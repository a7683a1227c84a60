"""A Hypothesis ``RuleBasedStateMachine`` over driver-core events, oracles as invariants.

The machine boots a platform under a variant once, then applies driver-core
events one rule at a time, each run as a userspace thread in the booted
model kernel: unbind a device's driver (``unbind_store``), bind it again
(``device_attach``), or remove the device (``device_unregister``).  The invariants
are the oracles: after every step, ``oracles.final_checks`` holds and no
finding (oops, deadlock, WARN, group or isolation problem) has been recorded.
Hypothesis shrinks a failing event sequence to a minimal one.

Use :func:`machine_for` to get a machine class for a (platform, variant) and
run it with ``run_state_machine_as_test`` or as a ``TestCase``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from harness import oracles, variant
from harness.board import Board
from harness.boot import Boot, BootConfig, device_attach, device_unregister, unbind_store
from harness.kernel import Kernel, set_kernel
from harness.variant import Variant

INTERESTING = 48
DEVICE_INDEX = st.integers(0, 63)


class DriverCoreMachine(RuleBasedStateMachine):
    """Set ``platform`` and ``variant`` in a subclass (see :func:`machine_for`)."""

    platform: Board
    variant: Variant
    cfg: BootConfig = BootConfig()

    def __init__(self) -> None:
        super().__init__()
        self.boot = Boot(self.platform, self.variant, self.cfg)
        self.k: Kernel = self.boot.run()
        # IOMMU drivers set suppress_bind_attrs and IOMMU devices are not
        # hot-removed: events name other devices, IOMMU clients first.
        devs = [d for d in self.boot.devices()
                if d.of_node is None or d.of_node.desc.iommu_cells is None]
        self.interesting = [d for d in devs if d.of_node is not None and d.of_node.desc.iommus]
        self.others = [d for d in devs if d not in self.interesting]
        self.devices = self.interesting + self.others
        self.steps: list[str] = []
        if not self.k.panicked:
            oracles.final_checks(self.boot.devices())
        set_kernel(None)

    # -- running an event in the booted kernel ------------------------------------

    def _in_kernel(self, name: str, fn: Any, dev: Any) -> None:
        self.steps.append(f"{name} {dev.init_name}")
        set_kernel(self.k)
        variant.activate(self.variant)
        try:
            self.k.kthread_create("sh", fn, dev)
            self.k.run()
        finally:
            set_kernel(None)

    def _dev(self, i: int) -> Any:
        if i < INTERESTING and self.interesting:
            return self.interesting[i % len(self.interesting)]
        pool = self.others or self.interesting
        return pool[i % len(pool)]

    def _alive(self) -> bool:
        return not self.k.panicked and bool(self.devices)

    @precondition(lambda self: self._alive())
    @rule(i=DEVICE_INDEX)
    def unbind(self, i: int) -> None:
        self._in_kernel("unbind", unbind_store, self._dev(i))

    @precondition(lambda self: self._alive())
    @rule(i=DEVICE_INDEX)
    def bind(self, i: int) -> None:
        dev = self._dev(i)
        if not dev.dead:
            self._in_kernel("bind", device_attach, dev)

    @precondition(lambda self: self._alive())
    @rule(i=DEVICE_INDEX)
    def remove(self, i: int) -> None:
        dev = self._dev(i)
        if not dev.dead:
            self._in_kernel("remove", device_unregister, dev)

    # -- the oracles ----------------------------------------------------------------

    @invariant()
    def oracles_hold(self) -> None:
        if not self.k.panicked:
            set_kernel(self.k)
            variant.activate(self.variant)
            try:
                oracles.final_checks([d for d in self.boot.devices() if not d.dead])
            finally:
                set_kernel(None)
        titles = [f.title for f in self.k.findings]
        assert not titles, f"after {self.steps or ['boot']}: {titles}"


def machine_for(platform: Board, v: Variant, cfg: BootConfig | None = None) -> type[DriverCoreMachine]:
    """A :class:`DriverCoreMachine` subclass bound to ``platform`` and ``v``."""
    name = f"DriverCore_{platform.name}_{v.name}".replace("-", "_").replace("+", "_")
    attrs: dict[str, Any] = {"platform": platform, "variant": v}
    if cfg is not None:
        attrs["cfg"] = cfg
    return type(name, (DriverCoreMachine,), attrs)
