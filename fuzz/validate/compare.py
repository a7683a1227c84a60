"""Compare a real boot's console with the model's run of the same scenario.

Two questions, each row of the agreement table answering one:

* per device: is it in an IOMMU group, and with which other devices?  Rows
  for every PCI function QEMU created and every device either side grouped.
  Group numbers differ between the two (allocation order), members do not.
* per finding title: did the kernel print it, did the model report it?
  Only what a console can show is compared: oopses and WARNs.  The model's
  oracle findings (group, isolation, deferral invariants) are judgements no
  kernel prints; they are listed, not compared (their effect on groups is
  compared through the device rows).

A boot that did not reach init's ``done`` has no group listing: its device
rows are unknown, which agrees only with a model run that panicked too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from fuzz.validate.console import ConsoleReport
from fuzz.validate.model import ModelRun
from harness.findings import OOPS, WARNING

#: kinds a console shows (lockdep is off in the validation kernel)
CONSOLE_KINDS = (OOPS, WARNING)


@dataclass
class DeviceRow:
    """One device: its group's members on each side (None: no group; the
    real side is also None with ``real_known`` False after an incomplete boot)."""

    device: str
    real: list[str] | None
    model: list[str] | None
    real_known: bool = True
    real_driver: str | None = None
    model_driver: str | None = None

    @property
    def agree(self) -> bool:
        return self.real == self.model if self.real_known else False

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"agree": self.agree}


@dataclass
class TitleRow:
    title: str
    real: bool
    model: bool

    @property
    def agree(self) -> bool:
        return self.real == self.model

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"agree": self.agree}


@dataclass
class Comparison:
    devices: list[DeviceRow]
    titles: list[TitleRow]
    #: the model's oracle findings (not observable on a console)
    model_only: list[str] = field(default_factory=list)
    boot_complete: bool = True
    both_panicked: bool = False

    @property
    def agree(self) -> bool:
        devices_ok = all(r.agree for r in self.devices) or (
            not self.boot_complete and self.both_panicked)
        return devices_ok and all(r.agree for r in self.titles)

    def as_json(self) -> dict[str, Any]:
        return {"agree": self.agree, "boot_complete": self.boot_complete,
                "devices": [r.as_json() for r in self.devices],
                "titles": [r.as_json() for r in self.titles],
                "model_only": list(self.model_only)}


def compare(real: ConsoleReport, model: ModelRun, pci: list[str]) -> Comparison:
    """Rows for the PCI functions ``pci`` and every device either side grouped."""
    names = list(pci)
    grouped = {d for ms in real.groups.values() for d in ms}
    grouped |= {d for ms in model.groups.values() for d in ms}
    names += sorted(grouped - set(names))
    rows = [DeviceRow(n, real.group_of(n) if real.complete else None, model.group_of(n),
                      real.complete, real.drivers.get(n), model.drivers.get(n)) for n in names]
    real_titles = {f.title for f in real.findings}
    model_titles = {f.title for f in model.findings if f.kind in CONSOLE_KINDS}
    titles = [TitleRow(t, t in real_titles, t in model_titles)
              for t in sorted(real_titles | model_titles)]
    model_only = sorted({f.title for f in model.findings if f.kind not in CONSOLE_KINDS})
    return Comparison(rows, titles, model_only, real.complete,
                      real.panicked and model.panicked)


def _members(m: list[str] | None, dev: str) -> str:
    if m is None:
        return "-"
    others = [x for x in m if x != dev]
    return "alone" if not others else "with " + ", ".join(others)


def render(c: Comparison) -> str:
    """The agreement table, plain text."""
    out: list[str] = []
    if not c.boot_complete:
        out.append("real boot did not reach init: group membership unknown")
    w = max([len(r.device) for r in c.devices] + [6])
    out.append(f"{'device':<{w}}  {'real kernel':<28}  {'model':<28}  agree")
    for r in c.devices:
        real = _members(r.real, r.device) if r.real_known else "?"
        out.append(f"{r.device:<{w}}  {real:<28}  {_members(r.model, r.device):<28}  "
                   f"{'yes' if r.agree else 'NO'}")
    if c.titles:
        tw = max(len(t.title) for t in c.titles)
        out.append("")
        out.append(f"{'finding':<{tw}}  {'real':<5}  {'model':<5}  agree")
        for t in c.titles:
            out.append(f"{t.title:<{tw}}  {'yes' if t.real else 'no':<5}  "
                       f"{'yes' if t.model else 'no':<5}  {'yes' if t.agree else 'NO'}")
    else:
        out.append("findings: none on either side")
    if c.model_only:
        out.append("model oracle findings (no console equivalent, not compared): "
                   + "; ".join(c.model_only))
    out.append("AGREE" if c.agree else "DISAGREE")
    return "\n".join(out) + "\n"
