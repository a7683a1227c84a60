"""Which registered IOMMU instances a device's firmware gives it to.

Model state, not a check: the DT ``iommus`` references of a device, minus
those whose driver declined the device in ``of_xlate`` (-ENODEV: ipmmu-vmsa's
allow-list, a sysmmu without drvdata), plus what the firmware tables of the
NULL-fwnode drivers (Intel DMAR, AMD IVRS, VIOT) assign it to.  The oracles
and the end-of-run statistics read :func:`referenced_instances`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.errno import ENODEV
from harness.footprint import READ, WRITE, fp_touch
from harness.iommu import iommu
from harness.kernel import kernel

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device
    from harness.of.node import of_phandle_args

#: ``claim(dev)`` -> the registered instances the tables give ``dev`` to
FwClaim = Callable[[Any], list[Any]]


class FwRefsState:
    """Per boot: the drivers' firmware-table claims and the declined references."""

    def __init__(self) -> None:
        # NULL-fwnode drivers' firmware tables (DMAR/IVRS/VIOT): dev -> the
        # registered instances those tables assign it to
        self.fw_claims: list[FwClaim] = []
        # (id(dev), IOMMU node path) whose latest of_xlate the driver refused with -ENODEV
        self.declined: set[tuple[int, str]] = set()


def fw_refs() -> FwRefsState:
    return kernel().state(FwRefsState)


def register_fw_claim(claim: FwClaim) -> None:
    """A NULL-fwnode driver (Intel DMAR, AMD IVRS) says which registered
    instance its firmware tables give a device to: ``claim(dev)`` returns a
    list of instances and reads only the tables (no driver state)."""
    fw_refs().fw_claims.append(claim)


def of_xlate_result(dev: device, spec: of_phandle_args, ret: int) -> None:
    """A driver's ``of_xlate`` returned: -ENODEV is the driver declining the
    device (ipmmu-vmsa's allow-list, a sysmmu without drvdata): the device is
    then, by that driver's decision, not behind that instance (4, 7)."""
    key = (id(dev), spec.np.full_name)
    fp_touch(("fw_refs", "declined"), (dev.init_name, spec.np.full_name), WRITE)
    if ret == -ENODEV:
        fw_refs().declined.add(key)
    else:
        fw_refs().declined.discard(key)


def referenced_instances(dev: device) -> list[Any]:
    """Registered IOMMU instances this device's firmware names, except those
    whose driver declined the device in of_xlate (:func:`of_xlate_result`)."""
    out = [inst for claim in fw_refs().fw_claims for inst in claim(dev)]
    np = dev.of_node
    declined = fw_refs().declined
    if np is not None:
        for ref in np.desc.iommus:
            fp_touch(("fw_refs", "declined"), (dev.init_name, ref.iommu), READ)
            if (id(dev), ref.iommu) in declined:
                continue
            for inst in iommu.core().iommu_device_list:
                if inst.fwnode is not None and inst.fwnode.kind == "of" and \
                        inst.fwnode.np.full_name == ref.iommu and \
                        np.desc.available() and inst.fwnode.np.desc.available():
                    out.append(inst)
    return out
