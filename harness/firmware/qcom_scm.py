"""drivers/firmware/qcom/qcom_scm.c: the ``__scm`` instance IOMMU drivers ask for.

Facts modelled (6.12 line numbers):
* ``qcom_scm_is_available()`` (L1853) is ``!!__scm``; ``__scm`` is published
  in ``qcom_scm_probe()`` (L2077).
* ``qcom_scm_init()`` is ``subsys_initcall`` (L2204): the SCM driver binds the
  ``/firmware/scm`` node before any device_initcall IOMMU driver probes.  The
  model takes it as bound from then on iff the tree has an available node
  compatible with "qcom,scm" (its own dependencies -- clocks, interconnect --
  are not modelled).
* ``qcom_scm_iommu_secure_ptbl_size()`` (L920) calls ``qcom_scm_call(__scm->dev,
  ...)`` without checking ``__scm``: a NULL dereference when SCM is absent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.kernel import kernel, kfunc

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from harness.of.node import device_node


class qcom_scm:  # noqa: N801
    def __init__(self, np: device_node) -> None:
        self.dev = np  # the SCM device (its node stands for it)


class _ScmState:
    def __init__(self) -> None:
        self.probed = False
        self.scm: qcom_scm | None = None


def _scm() -> qcom_scm | None:
    s = kernel().state(_ScmState)
    if not s.probed:
        s.probed = True
        tree = kernel().globals.get("of_root")
        for np in (tree.by_path.values() if tree is not None else ()):
            if "qcom,scm" in np.compatible and np.desc.available():
                s.scm = qcom_scm(np)
                break
    return s.scm


@kfunc
def qcom_scm_is_available() -> bool:
    return _scm() is not None


@kfunc
def qcom_scm_iommu_secure_ptbl_size(spare: int) -> tuple[int, int]:
    """Returns (ret, size); the secure page table size is firmware's business."""
    scm: Any = _scm()
    _dev = scm.dev  # noqa: F841 - qcom_scm_call(__scm->dev, ...): NULL __scm faults
    return 0, 0x10000


@kfunc
def qcom_scm_iommu_secure_ptbl_init(addr: int, size: int, spare: int) -> int:
    scm: Any = _scm()
    _dev = scm.dev  # noqa: F841
    return 0
