"""drivers/iommu/of_iommu.c: ``of_iommu_configure()`` and ``of_iommu_xlate()``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness import trace, variant
from harness.base.dd import driver_deferred_probe_check_state
from harness.errno import ENODEV, EPROBE_DEFER
from harness.iommu import fw_refs
from harness.iommu.iommu import (
    dev_iommu_free,
    dev_iommu_fwspec_get,
    iommu_fwspec_free,
    iommu_fwspec_init,
    iommu_ops_from_fwnode,
    iommu_probe_device,
    iommu_probe_device_lock,
)
from harness.kernel import kernel, kfunc, kinline, mutex_lock, mutex_unlock
from harness.of.node import (
    device_node,
    of_device_is_available,
    of_fwnode_handle,
    of_map_id,
    of_parse_phandle_with_args,
    of_phandle_args,
    of_property_read_bool,
)

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.device import device

IOMMU_FWSPEC_PCI_RC_ATS = 1


def _tree() -> Any:
    return kernel().globals["of_root"]


@kfunc
def of_iommu_xlate(dev: device, iommu_spec: of_phandle_args) -> int:
    if not of_device_is_available(iommu_spec.np):
        return -ENODEV
    ret = iommu_fwspec_init(dev, of_fwnode_handle(iommu_spec.np))
    if ret == -EPROBE_DEFER:
        return driver_deferred_probe_check_state(dev)
    if ret:
        return ret
    ops = iommu_ops_from_fwnode(iommu_spec.np.fwnode)
    # No NULL check on ops: iommu_fwspec_init() just found the instance.
    if ops.of_xlate is None:
        return -ENODEV
    trace.of_xlate_call(dev, iommu_spec)
    ret = int(ops.of_xlate(dev, iommu_spec))
    fw_refs.of_xlate_result(dev, iommu_spec, ret)
    return ret


@kinline
def of_iommu_configure_dev_id(master_np: device_node, dev: device, id_: int) -> int:
    err, spec = of_map_id(master_np, _tree(), id_)
    if err:
        return err
    assert spec is not None
    return of_iommu_xlate(dev, spec)


@kinline
def of_iommu_configure_dev(master_np: device_node, dev: device) -> int:
    err = -ENODEV
    idx = 0
    tree = _tree()
    while True:
        spec = of_parse_phandle_with_args(master_np, tree, idx)
        if spec is None:
            break
        err = of_iommu_xlate(dev, spec)
        idx += 1
        if err:
            break
    return err


@kinline
def of_pci_iommu_init(pdev: Any, alias: int, info: dict[str, Any]) -> int:
    return of_iommu_configure_dev_id(info["np"], info["dev"], alias)


@kinline
def of_iommu_configure_device(master_np: device_node, dev: device, id_: int | None) -> int:
    if id_ is not None:
        return of_iommu_configure_dev_id(master_np, dev, id_)
    return of_iommu_configure_dev(master_np, dev)


@kfunc
def of_iommu_configure(dev: device, master_np: device_node | None, id_: int | None) -> int:
    # late: bus/pci.py -> of/device.py -> iommu/of_iommu.py at import time
    from harness.bus.pci import dev_is_pci, pci_for_each_dma_alias, pci_request_acs, to_pci_dev

    if master_np is None:
        return -ENODEV
    # Serialise to make dev->iommu stable under our potential fwspec
    mutex_lock(iommu_probe_device_lock())
    if dev_iommu_fwspec_get(dev) is not None:
        mutex_unlock(iommu_probe_device_lock())
        return 0
    dev_iommu_present = dev.iommu is not None
    trace.of_iommu_configure_entry(dev)

    if dev_is_pci(dev):
        info = {"dev": dev, "np": master_np}
        pci_request_acs()
        err = pci_for_each_dma_alias(to_pci_dev(dev), of_pci_iommu_init, info)
        fwspec = dev_iommu_fwspec_get(dev)
        if fwspec is not None and of_property_read_bool(master_np, "ats-supported"):
            fwspec.flags |= IOMMU_FWSPEC_PCI_RC_ATS
    else:
        err = of_iommu_configure_device(master_np, dev, id_)

    if variant.choice("of_iommu_configure.cleanup") == "exact":
        # free exactly what this call allocated (of_iommu.c:154-157)
        if err and dev_iommu_present:
            iommu_fwspec_free(dev)
        elif err and dev.iommu is not None:
            dev_iommu_free(dev)
    elif err:
        iommu_fwspec_free(dev)
    trace.of_iommu_configure_exit(dev, err, dev_iommu_present)
    # site of_iommu_configure.replay_lock: the replay below the unlock (drop,
    # as in the C) or above it, with iommu_probe_device_lock still held
    held = variant.choice("of_iommu_configure.replay_lock") == "hold"
    if held:
        err = _replay(dev, err, dev_iommu_present)
    mutex_unlock(iommu_probe_device_lock())
    if not held:
        err = _replay(dev, err, dev_iommu_present)
    return err


def _replay(dev: device, err: int, dev_iommu_present: bool) -> int:
    # V614: if (!err && dev->bus) err = iommu_probe_device(dev);
    # NEXT: ... && !dev_iommu_present
    if variant.check("of_iommu_configure.replay", dev=dev, err=err,
                     dev_iommu_present=dev_iommu_present):
        err = iommu_probe_device(dev)
    return err
