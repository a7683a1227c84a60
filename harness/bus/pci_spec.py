"""PCI functions as a platform or a scenario declares them:
``[hotplug:][DDDD:]BB:DD.F[=ID]`` (harness.bus.pci_host scans them)."""

from __future__ import annotations

import re
from dataclasses import dataclass

HOTPLUG = "hotplug:"
_SPEC = re.compile(r"^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])(?:=(\S+))?$")


@dataclass(frozen=True)
class PciFunction:
    """A function the root bus scan finds: domain, requester ID, match ID."""

    domain: int
    rid: int
    compatible: str = ""
    hotplug: bool = False

    @property
    def name(self) -> str:
        """``pci_setup_device()``'s ``DDDD:BB:DD.F``."""
        return f"{self.domain:04x}:{self.rid >> 8:02x}:{(self.rid >> 3) & 0x1F:02x}.{self.rid & 7}"


def parse_pci_spec(spec: str) -> PciFunction:
    """``[hotplug:][DDDD:]BB:DD.F[=ID]`` -> :class:`PciFunction`; ``ValueError``
    names what is wrong."""
    hot = spec.startswith(HOTPLUG)
    m = _SPEC.match(spec[len(HOTPLUG):] if hot else spec)
    if m is None:
        raise ValueError(f"PCI function {spec!r}: expected [hotplug:][DDDD:]BB:DD.F[=ID]")
    dom, bus, dev, fn, compat = m.groups()
    if int(dev, 16) > 0x1F:
        raise ValueError(f"PCI function {spec!r}: device number above 1f")
    rid = int(bus, 16) << 8 | int(dev, 16) << 3 | int(fn)
    return PciFunction(int(dom or "0", 16), rid, compat or "", hot)
