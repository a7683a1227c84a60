"""Parse an arm64 kernel's serial console: oopses, WARNs, IOMMU groups.

What a real boot says, in the model's terms (:mod:`harness.findings`), so the
two can be compared title by title:

* an oops (``Unable to handle kernel NULL pointer dereference at virtual
  address ...`` / ``... paging request ...``, then ``Internal error: Oops``,
  ``pc :`` and ``Call trace:``) is titled like the model titles its oopses:
  ``BUG: kernel NULL pointer dereference in <fn>`` or ``BUG: unable to handle
  kernel paging request in <fn>``, ``<fn>`` the first frame of the call trace
  that is not a generic helper (:func:`harness.findings.guilty_frame`, the
  rule syzkaller applies);
* ``kernel BUG at FILE:LINE!`` is ``kernel BUG in <fn>``;
* a WARN (``WARNING: CPU: 0 PID: 1 at FILE:LINE fn+0x../0x..``) is
  ``WARNING in <fn>``, its message the text between ``cut here`` and the
  ``WARNING:`` line (``late IOMMU probe at driver bind, ...`` for
  ``dev_WARN_ONCE`` in ``__iommu_probe_device``), its device the
  ``<driver> <device>:`` prefix of that message;
* the initramfs's ``/init`` (``fuzz/validate/init.c``) prints
  ``probefuzz: iommu_group N DEV``, ``probefuzz: device BUS DEV DRIVER``
  and ``probefuzz: done`` through ``/dev/kmsg``.

Lines carry the printk timestamp (``[    1.234567] ``); console output of
init written to the console directly has none: both are accepted.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.findings import OOPS, WARNING, guilty_frame

#: ``[    0.123456] `` (and an optional ``[    T1] `` caller id)
_STAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?(?:\[\s*[TC]\d+\]\s?)?")
_FRAME = re.compile(r"^\s*([A-Za-z_.$][\w.$]*)\+0x[0-9a-f]+/0x[0-9a-f]+(?:\s+\[\w+\])?(?:\s+\([PL]\))?\s*$")
_WARN = re.compile(r"^WARNING: CPU: \d+ PID: \d+ at (\S+):(\d+) ([\w.$]+)\+0x")
_WARN_NOLOC = re.compile(r"^WARNING: CPU: \d+ PID: \d+ at ([\w.$]+)\+0x")
_UNABLE = re.compile(r"^Unable to handle kernel (NULL pointer dereference|paging request)"
                     r" at virtual address\s*([0-9a-f]*)")
_KBUG = re.compile(r"^kernel BUG at (\S+):(\d+)!")
_PC = re.compile(r"^pc : ([\w.$]+)\+0x")
_GROUP = re.compile(r"^probefuzz: iommu_group (\d+) (\S+)$")
_DEVICE = re.compile(r"^probefuzz: device (\S+) (\S+) (\S+)$")
_DEV_PREFIX = re.compile(r"^(\S+) (\S+): ")
_LINUX = re.compile(r"^Linux version (\S+)")
_PANIC = "Kernel panic - not syncing:"
_CUT = "------------[ cut here ]------------"
_END_TRACE = re.compile(r"^---\[ end trace [0-9a-f]+ \]---")
_DONE = "probefuzz: done"


@dataclass
class ConsoleFinding:
    """One report the kernel printed: ``kind`` is ``oops`` or ``warning``
    (:mod:`harness.findings` kinds); ``trace`` innermost first."""

    kind: str
    title: str
    function: str
    message: str = ""
    device: str | None = None
    location: str = ""
    trace: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ConsoleReport:
    """What a boot's console says.  ``complete``: init reached ``done``
    (every group and device was listed); ``groups``: group number -> its
    devices in sysfs order; ``drivers``: device -> bound driver (None: none)
    and ``buses``: device -> bus, for every device init listed."""

    findings: list[ConsoleFinding] = field(default_factory=list)
    groups: dict[int, list[str]] = field(default_factory=dict)
    drivers: dict[str, str | None] = field(default_factory=dict)
    buses: dict[str, str] = field(default_factory=dict)
    complete: bool = False
    panicked: bool = False
    panic: str = ""
    version: str = ""

    def group_of(self, dev: str) -> list[str] | None:
        """The sorted members of ``dev``'s group, or None when it has none."""
        for members in self.groups.values():
            if dev in members:
                return sorted(members)
        return None

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["groups"] = {str(k): v for k, v in self.groups.items()}
        return d


def strip_stamp(line: str) -> str:
    """A console line without its printk timestamp and trailing blanks/CR."""
    return _STAMP.sub("", line.rstrip("\r\n \t"), count=1)


def _title(kind_word: str, fn: str) -> str:
    if kind_word == "NULL pointer dereference":
        return f"BUG: kernel NULL pointer dereference in {fn}"
    if kind_word == "paging request":
        return f"BUG: unable to handle kernel paging request in {fn}"
    return f"kernel BUG in {fn}"


class _Parser:
    def __init__(self) -> None:
        self.report = ConsoleReport()
        self.cur: ConsoleFinding | None = None
        self.pending_oops: tuple[str, str] | None = None  # (what, address)
        self.in_trace = False
        self.cut = False
        self.msg: list[str] = []

    def finish(self) -> None:
        f = self.cur
        if f is not None:
            fn = guilty_frame(f.trace) if f.trace else f.function
            f.function = fn or f.function
            if f.kind == WARNING:
                f.title = f"WARNING in {f.function}"
            else:
                f.title = _title(f.title, f.function)
            self.report.findings.append(f)
        self.cur = None
        self.in_trace = False

    def line(self, raw: str) -> None:
        ln = strip_stamp(raw)
        r = self.report
        if m := _GROUP.match(ln):
            r.groups.setdefault(int(m.group(1)), []).append(m.group(2))
            return
        if m := _DEVICE.match(ln):
            r.buses[m.group(2)] = m.group(1)
            r.drivers[m.group(2)] = None if m.group(3) == "-" else m.group(3)
            return
        if ln == _DONE:
            r.complete = True
            return
        if m := _LINUX.match(ln):
            r.version = m.group(1)
        if ln.startswith(_PANIC):
            r.panicked = True
            r.panic = ln[len(_PANIC):].strip()
        if ln == _CUT:
            self.finish()
            self.cut, self.msg = True, []
            return
        if m := _UNABLE.match(ln):
            self.finish()
            self.pending_oops = (m.group(1), m.group(2))
            self.cur = ConsoleFinding(OOPS, m.group(1), "", message=ln)
            return
        if m := _KBUG.match(ln):
            self.finish()
            self.cur = ConsoleFinding(OOPS, "kernel BUG", "", message=ln,
                                      location=f"{m.group(1)}:{m.group(2)}")
            return
        m = _WARN.match(ln)
        m2 = None if m else _WARN_NOLOC.match(ln)
        if m or m2:
            self.finish()
            fn = m.group(3) if m else m2.group(1)  # type: ignore[union-attr]
            msg = " ".join(s for s in self.msg if s)
            dev = None
            if dm := _DEV_PREFIX.match(msg):
                dev = dm.group(2)
            self.cur = ConsoleFinding(WARNING, "", fn, message=msg, device=dev,
                                      location=f"{m.group(1)}:{m.group(2)}" if m else "")
            self.cut, self.msg = False, []
            return
        if self.cut:
            self.msg.append(ln)
            return
        if self.cur is None:
            return
        if m := _PC.match(ln):
            if not self.cur.function:
                self.cur.function = m.group(1)
            return
        if ln.startswith("Call trace:"):
            self.in_trace = True
            return
        if self.in_trace:
            if fm := _FRAME.match(ln):
                self.cur.trace.append(fm.group(1))
                return
            self.in_trace = False
        if _END_TRACE.match(ln) or ln.startswith(_PANIC):
            self.finish()


def parse_console(text: str) -> ConsoleReport:
    """Parse a whole console log (see the module doc for what is extracted)."""
    p = _Parser()
    for raw in text.splitlines():
        p.line(raw)
    p.finish()
    return p.report
