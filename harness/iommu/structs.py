"""IOMMU structures (include/linux/iommu.h, drivers/iommu/iommu.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.kernel import Mutex

if TYPE_CHECKING:
    from harness.device import device
    from harness.of.node import fwnode_handle


class iommu_fwspec:  # noqa: N801
    """``struct iommu_fwspec``: which instance (by fwnode) and which IDs."""

    __slots__ = ("iommu_fwnode", "flags", "ids")

    def __init__(self, iommu_fwnode: Any) -> None:
        self.iommu_fwnode = iommu_fwnode
        self.flags = 0
        self.ids: list[int] = []

    @property
    def num_ids(self) -> int:
        return len(self.ids)


class dev_iommu:  # noqa: N801
    """``struct dev_iommu``: per-device IOMMU state (``dev->iommu``)."""

    __slots__ = ("lock", "fwspec", "iommu_dev", "priv", "max_pasids", "attach_deferred", "freed")

    def __init__(self) -> None:
        self.lock = Mutex("&param->lock")
        self.fwspec: iommu_fwspec | None = None
        self.iommu_dev: iommu_device | None = None
        self.priv: Any = None
        self.max_pasids = 0
        self.attach_deferred = False
        self.freed = False  # kfree()d: any later use is a use-after-free


class iommu_ops:  # noqa: N801
    """``struct iommu_ops``: a driver's callbacks (None where the C has none)."""

    def __init__(
        self,
        name: str,
        probe_device: Any,
        device_group: Any,
        of_xlate: Any = None,
        release_device: Any = None,
        probe_finalize: Any = None,
        domain_alloc_paging: Any = None,
        def_domain_type: Any = None,
        identity_domain: Any = None,
        owner: str | None = None,
    ) -> None:
        self.name = name
        self.probe_device = probe_device
        self.device_group = device_group
        self.of_xlate = of_xlate
        self.release_device = release_device
        self.probe_finalize = probe_finalize
        self.domain_alloc_paging = domain_alloc_paging
        self.def_domain_type = def_domain_type
        self.identity_domain = identity_domain
        self.owner = owner

    def __repr__(self) -> str:
        return f"<iommu_ops {self.name}>"


class iommu_device:  # noqa: N801
    """``struct iommu_device``: a registered hardware instance."""

    def __init__(self) -> None:
        self.ops: iommu_ops | None = None
        self.fwnode: fwnode_handle | None = None
        self.dev: device | None = None  # the hardware device (sysfs parent)
        self.singleton_group: iommu_group | None = None
        self.max_pasids = 0
        self.listed = False  # on iommu_device_list

    def __repr__(self) -> str:
        name = self.dev.init_name if self.dev is not None else "?"
        return f"<iommu_device {name}>"


IOMMU_DOMAIN_BLOCKED = 0
IOMMU_DOMAIN_IDENTITY = 1
IOMMU_DOMAIN_DMA = 2

DOMAIN_TYPE_NAMES = {IOMMU_DOMAIN_BLOCKED: "blocked", IOMMU_DOMAIN_IDENTITY: "identity",
                     IOMMU_DOMAIN_DMA: "DMA"}


class iommu_domain:  # noqa: N801
    __slots__ = ("type", "owner", "freed")

    def __init__(self, type_: int, owner: iommu_ops | None) -> None:
        self.type = type_
        self.owner = owner
        self.freed = False


class group_device:  # noqa: N801
    __slots__ = ("dev", "name")

    def __init__(self, dev: device) -> None:
        self.dev = dev
        self.name = dev.init_name


class iommu_group:  # noqa: N801
    """``struct iommu_group`` (iommu.c L47)."""

    def __init__(self, id_: int) -> None:
        self.id = id_
        self.devices: list[group_device] = []
        self.mutex = Mutex(f"&group->mutex({id_})", "&group->mutex")
        self.default_domain: iommu_domain | None = None
        self.blocking_domain: iommu_domain | None = None
        self.domain: iommu_domain | None = None
        self.entry_queued = False  # !list_empty(&group->entry)
        self.owner_cnt = 0
        self.owner: Any = None
        self.refcount = 1  # kobject reference from iommu_group_alloc()
        self.iommu_data: Any = None

    def __repr__(self) -> str:
        return f"<iommu_group {self.id} {[g.name for g in self.devices]}>"
