"""Which model attributes are recorded otherwise than by the hooks' default.

By default every attribute read of a model object is a read and every store
a write (:mod:`harness.footprint.hooks`).  The tables below name the
exceptions, by ``(class name, attribute name)``: containers, audited or not,
per-device tables, commutative counters; the classes named by a kernel name;
the modules whose classes are checked read-only instead of recorded.  Each
entry is a claim about the model's code that a test checks
(tests/harness/footprint/).
"""

from __future__ import annotations

from collections import deque

#: Types read and changed through a reference, not an attribute: reading the
#: attribute hands the thread the container (harness.footprint.recorder).
CONTAINERS = frozenset({list, dict, set, deque, bytearray})

#: Model classes the hooks leave out: immutable descriptions of the scenario
#: (checked: a write to one during a recorded run makes the run opaque).
READ_ONLY_MODULES = ("harness.board", "harness.variant", "harness.sites", "harness.inputs",
                     "harness.findings", "harness.klog", "harness.trace", "harness.upstream")

#: Container attributes whose every change records a write (fp_write): reading
#: them is a read.  (class name, attribute name).
AUDITED: frozenset[tuple[str, str]] = frozenset({
    ("bus_type", "devices"),  # klist_devices: bus_add_device, bus_remove_device
    ("bus_type", "drivers"),  # klist_drivers: bus_add_driver
    ("bus_type", "notifiers"),  # bus_register_notifier
    ("BusIndex", "devices"),  # the klists by match key (model only)
    ("BusIndex", "drivers"),
    ("device", "devres_head"),  # devres_add, devm_add_action, devres_release_all
    ("device_driver", "devices"),  # driver_bound, __device_release_driver
    ("iommu_group", "devices"),  # iommu_group_add_device, __iommu_group_remove_device
    ("IommuCoreState", "iommu_device_list"),  # iommu_device_register, _unregister
    ("IommuCoreState", "iommu_buses"),  # set before the first thread runs
    ("IommuCoreState", "fail_alloc"),  # set before the first thread runs
    ("DevlinkState", "suppliers"),  # computed before the first thread runs
    ("DevlinkState", "_by_node"),  # a cache, replaced (a store) when rebuilt
})

#: Tables keyed by device whose every access records the device's entry
#: itself (fp_touch at each use, harness/oracles.py, harness/iommu/fw_refs.py):
#: reading the attribute is no access.  tests/harness/footprint/test_attrs.py
#: checks that every function using one records it.
ELEMENTWISE: frozenset[tuple[str, str]] = frozenset({
    ("OracleState", "binding"), ("OracleState", "probe_count"),
    ("OracleState", "dma_configure_in_bind"), ("OracleState", "probe_started"),
    ("OracleState", "xlate_calls"), ("OracleState", "deferred_for_iommu"),
    ("FwRefsState", "declined"),
})

#: Attributes that are only ever incremented and decremented, never read
#: otherwise (dd.c's probe_count, an atomic_t nobody waits on in the model):
#: the updates commute, so they are no access.
COMMUTATIVE: frozenset[tuple[str, str]] = frozenset({("DeferredProbeState", "probe_count")})

#: object names that do not depend on the interleaving: class -> attribute
NAMED = {"device": "init_name", "device_driver": "name", "bus_type": "name",
         "device_node": "full_name"}
