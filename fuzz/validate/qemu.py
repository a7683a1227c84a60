"""QEMU's arm64 ``virt`` machine: its DTB and a bounded boot.

The machine is ``virt`` with an SMMUv3 (``iommu=smmuv3``: translates the
PCIe host bridge, ``iommu-map`` on its node) or with a ``virtio-iommu-pci``
function in slot 1 (QEMU then describes it below the host bridge and maps
every other requester ID to it).  Endpoints are placed at fixed slots
(``addr=SS.0``, in the order given, after the virtio-iommu), so the model
can be told exactly which requester IDs exist: PCI functions are not in
the DTB, the kernel enumerates them.

Every QEMU run has an argument list, a timeout, its own process group
(killed on every exit path: timeout, error, Ctrl-C) and ``PR_SET_PDEATHSIG``
so a SIGKILLed probefuzz takes QEMU with it.  The console goes to a file,
so what a hung or panicking boot printed is kept.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corpus.hosttools import ToolError, run, which

QEMU = "qemu-system-aarch64"
SMMUV3 = "smmuv3"
VIRTIO_IOMMU = "virtio-iommu"
MACHINES = (SMMUV3, VIRTIO_IOMMU)
CPU = "cortex-a57"
MEMORY = "256M"
DUMPDTB_TIMEOUT = 60.0
BOOT_TIMEOUT = 180.0
#: kernel command line: printk.devkmsg=on so init's records are not
#: ratelimited; panic=-1 + -no-reboot: a panic ends QEMU at once
CMDLINE = "console=ttyAMA0 printk.devkmsg=on panic=-1 rdinit=/init"

#: the PCI host bridge QEMU's virt machine puts at 00:00.0 (gpex, no driver)
HOST_BRIDGE = ("gpex-pcihost", 0x1B36, 0x0008, False)


@dataclass(frozen=True)
class PciModel:
    """What a QEMU ``-device`` is on the PCI bus: vendor/device ID as it
    enumerates on ``virt``'s root bus (virtio devices are transitional there,
    ``disable-legacy=auto``), whether the validate kernel has a driver for it,
    and the extra QEMU arguments it needs (a backend)."""

    vendor: int
    device: int
    driver: bool
    backend: tuple[str, ...] = ()
    #: extra -device properties (no option ROM: it needs Debian's ipxe-qemu
    #: and only firmware would run it)
    props: str = ""


#: QEMU devices validate knows: plain PCI endpoints (no bridges, which the
#: model does not have).  Drivers: see virt.config.
DEVICES: dict[str, PciModel] = {
    "virtio-net-pci": PciModel(0x1AF4, 0x1000, True, props=",romfile="),
    "virtio-blk-pci": PciModel(0x1AF4, 0x1001, True,
                               ("-blockdev", "driver=null-co,node-name={id}")),
    "virtio-balloon-pci": PciModel(0x1AF4, 0x1002, True),
    "virtio-serial-pci": PciModel(0x1AF4, 0x1003, True),
    "virtio-rng-pci": PciModel(0x1AF4, 0x1005, True),
    "virtio-keyboard-pci": PciModel(0x1AF4, 0x1052, True),
    "pci-testdev": PciModel(0x1B36, 0x0005, False),
}
VIOMMU = PciModel(0x1AF4, 0x1057, True)
DEFAULT_DEVICES = ("virtio-rng-pci", "virtio-balloon-pci", "virtio-serial-pci")


@dataclass(frozen=True)
class PciFunction:
    """One function on bus 0: QEMU device, slot, IDs, driver in the kernel."""

    qdev: str
    slot: int
    vendor: int
    device: int
    driver: bool

    @property
    def rid(self) -> int:
        return self.slot << 3

    @property
    def name(self) -> str:
        return f"0000:00:{self.slot:02x}.0"

    @property
    def compatible(self) -> str:
        """The PCI bus binding's ``pciVVVV,DDDD``, as the model names it."""
        return f"pci{self.vendor:04x},{self.device:04x}"


@dataclass
class Machine:
    """A ``virt`` machine: which IOMMU, which endpoints (in slot order)."""

    iommu: str
    functions: list[PciFunction] = field(default_factory=list)

    def host_bridge(self) -> PciFunction:
        q, v, d, drv = HOST_BRIDGE
        return PciFunction(q, 0, v, d, drv)

    def all_functions(self) -> list[PciFunction]:
        return [self.host_bridge(), *self.functions]

    def as_json(self) -> dict[str, Any]:
        return {"iommu": self.iommu, "functions": [asdict(f) | {"name": f.name}
                                                   for f in self.all_functions()]}


def machine(iommu: str, devices: list[str]) -> Machine:
    """The machine for ``iommu`` (one of :data:`MACHINES`) with ``devices``
    (names from :data:`DEVICES`) in slots 1.. (2.. behind a virtio-iommu);
    ValueError names what is unknown."""
    if iommu not in MACHINES:
        raise ValueError(f"unknown machine {iommu!r}: expected one of {', '.join(MACHINES)}")
    unknown = [d for d in devices if d not in DEVICES]
    if unknown:
        raise ValueError(f"unknown device {unknown[0]!r}: expected one of {', '.join(DEVICES)}")
    fns: list[PciFunction] = []
    slot = 1
    if iommu == VIRTIO_IOMMU:
        fns.append(PciFunction("virtio-iommu-pci", 1, VIOMMU.vendor, VIOMMU.device, True))
        slot = 2
    for i, d in enumerate(devices):
        m = DEVICES[d]
        fns.append(PciFunction(d, slot + i, m.vendor, m.device, m.driver))
    if fns and fns[-1].slot > 0x1F:
        raise ValueError(f"{len(devices)} devices do not fit on one PCI bus (31 slots)")
    return Machine(iommu, fns)


def qemu_argv(m: Machine, kernel: Path | None = None, initrd: Path | None = None,
              console: Path | None = None, dumpdtb: Path | None = None) -> list[str]:
    """The QEMU command line for ``m`` (``dumpdtb``: write the DTB and exit)."""
    mach = "virt,gic-version=3"
    if m.iommu == SMMUV3:
        mach += ",iommu=smmuv3"
    if dumpdtb is not None:
        mach += f",dumpdtb={dumpdtb}"
    argv = [QEMU, "-machine", mach, "-accel", "tcg", "-cpu", CPU, "-smp", "1", "-m", MEMORY,
            "-nodefaults", "-display", "none", "-no-reboot",
            "-serial", f"file:{console}" if console is not None else "null"]
    if kernel is not None:
        argv += ["-kernel", str(kernel), "-append", CMDLINE]
    if initrd is not None:
        argv += ["-initrd", str(initrd)]
    for i, f in enumerate(m.functions):
        dev_id = f"pf{i}"
        extra = ""
        pm = DEVICES.get(f.qdev)
        if pm is not None and pm.backend:
            argv += [a.format(id=dev_id) for a in pm.backend]
            extra = f",drive={dev_id}"
        if pm is not None:
            extra += pm.props
        argv += ["-device", f"{f.qdev},addr={f.slot:02x}.0,id={dev_id}-dev{extra}"]
    return argv


def dump_dtb(m: Machine, dest: Path, kernel: Path | None = None,
             initrd: Path | None = None) -> None:
    """Have QEMU write the DTB it gives the kernel of ``m`` to ``dest``."""
    run(qemu_argv(m, kernel, initrd, dumpdtb=dest), timeout=DUMPDTB_TIMEOUT,
        subject="dumpdtb")
    if not dest.is_file():
        raise ToolError(f"{QEMU} did not write {dest}")


@dataclass
class Boot:
    """A finished boot: the console text, QEMU's exit, whether it timed out."""

    console: str
    seconds: float
    timed_out: bool
    returncode: int | None
    stderr: str = ""


def _pdeathsig() -> None:
    """In the child: die with the parent (prctl(PR_SET_PDEATHSIG, SIGKILL))."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def boot(m: Machine, kernel: Path, initrd: Path, console: Path,
         timeout: float = BOOT_TIMEOUT) -> Boot:
    """Boot ``kernel`` with ``initrd`` on ``m`` under TCG for at most
    ``timeout`` seconds; the console is written to ``console``."""
    argv = qemu_argv(m, kernel, initrd, console=console)
    argv[0] = which(QEMU)
    console.unlink(missing_ok=True)
    t0 = time.monotonic()
    # own session (so the group can be killed) and PDEATHSIG (so it dies with us)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=_pdeathsig)
    timed_out = False
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        err = b""
    finally:
        # every exit path: the group goes (QEMU forks no helpers today; a
        # future one would otherwise outlive us)
        _kill(proc)
        if proc.stderr is not None:
            proc.stderr.close()
    seconds = time.monotonic() - t0
    text = console.read_text(errors="replace") if console.is_file() else ""
    stderr = err.decode("utf-8", "replace").strip()
    if proc.returncode not in (0, None) and not timed_out and not text:
        raise ToolError(f"{QEMU} failed (exit {proc.returncode}): "
                        + " | ".join(stderr.splitlines()[:3]))
    return Boot(text, round(seconds, 3), timed_out, None if timed_out else proc.returncode,
                stderr)
