"""arm-smmu on real 6.12 boards: sdm845-db845c (MMU-500 + the Qualcomm
implementation, plus the Adreno SMMU-v2), juno (MMU-401, generic impl) and a
hand-written legacy "mmu-masters" variant of juno; the order sites read back
from the real arm-smmu.c."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.dt import load_platform_file
from harness.board import Board, Node
from harness.boot import BootConfig
from harness.iommu.structs import IOMMU_DOMAIN_DMA, IOMMU_DOMAIN_IDENTITY
from harness.variant import NEXT, SITES, V614, Variant
from mutators.readback import read_value
from tests.harness.iommu.drivers._sites import patched_copy
from tests.harness.iommu.drivers.smmu_boards import Booted, boot, clients_of, legacy_mmu_masters

pytestmark = pytest.mark.kernel_tree

SDM845 = "arch/arm64/boot/dts/qcom/sdm845-db845c.dts"
JUNO = "arch/arm64/boot/dts/arm/juno.dts"
APPS_SMMU = "/soc@0/iommu@15000000"  # qcom,sdm845-smmu-500 + arm,mmu-500
ADRENO_SMMU = "/soc@0/iommu@5040000"  # qcom,sdm845-smmu-v2 + qcom,adreno-smmu


@pytest.fixture(scope="module")
def sdm845(kernel_tree: Path) -> Board:
    return load_platform_file(kernel_tree / SDM845)


@pytest.fixture(scope="module")
def juno(kernel_tree: Path) -> Board:
    return load_platform_file(kernel_tree / JUNO)


def _smmus(p: Board) -> list[Node]:
    from harness.iommu.drivers.arm_smmu import ARM_SMMU_OF_MATCH

    return [n for n in p.nodes if n.available() and n.iommu_cells is not None
            and any(c in ARM_SMMU_OF_MATCH for c in n.compatible)]


def _entries(p: Board, client: Node, smmu: Node) -> list[tuple[int, int]]:
    """(SID, mask) of each specifier, as the binding defines them."""
    smm = smmu.props.get("stream-match-mask")
    out = []
    for r in client.iommus:
        if r.iommu == smmu.path:
            mask = r.args[1] if len(r.args) > 1 else (smm[0] if smm else 0)
            out.append((r.args[0] & 0xFFFF, mask & 0xFFFF))
    return out


def _covers(big: tuple[int, int], small: tuple[int, int]) -> bool:
    """An SMR ``big`` entirely matches the entry ``small``."""
    (bid, bmask), (sid, smask) = big, small
    return (smask & bmask) == smask and not ((sid ^ bid) & ~bmask & 0xFFFF)


def expected_partition(p: Board, smmu: Node) -> list[set[str]]:
    """Clients of ``smmu`` that must share a group: those linked by a stream
    map entry one of them reuses (arm_smmu_find_sme: an existing SMR that
    entirely matches the new entry), transitively."""
    clients = clients_of(p, smmu.path)
    parent = {c.path: c.path for c in clients}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for a in clients:
        for b in clients:
            if a is not b and any(_covers(x, y) or _covers(y, x) for x in _entries(p, a, smmu)
                                  for y in _entries(p, b, smmu)):
                parent[find(a.path)] = find(b.path)
    sets: dict[str, set[str]] = {}
    for c in clients:
        sets.setdefault(find(c.path), set()).add(c.path)
    return list(sets.values())


def _groups_by_node(r: Booted) -> dict[str, object]:
    return {d.of_node.full_name: r.groups[name] for name, d in r.devices.items()
            if d.of_node is not None}


def assert_smr_policy(p: Board, r: Booted) -> int:
    """Every enabled client of every SMMU is grouped, and grouped by the SME
    sharing policy; returns the number of clients checked."""
    by_node = _groups_by_node(r)
    seen: dict[int, str] = {}
    n = 0
    for smmu in _smmus(p):
        for part in expected_partition(p, smmu):
            # nodes the model makes no device for (children of non-bus
            # nodes that their parent's driver would create) are not clients
            part = {c for c in part if c in by_node}
            if not part:
                continue
            assert all(by_node[c] is not None for c in part), part
            groups = {id(by_node[c]) for c in part}
            assert len(groups) == 1, f"{sorted(part)} should share one group"
            gid = groups.pop()
            assert gid not in seen, f"{sorted(part)} shares a group with {seen[gid]}"
            seen[gid] = smmu.path
            n += len(part)
    return n


def test_sdm845_v614_groups_by_shared_sme(sdm845: Board) -> None:
    r = boot(sdm845, V614)
    assert r.findings == [] and not r.panicked
    # both instances registered, with a non-NULL fwnode (generic binding).
    # The apps SMMU names no supplier and registers at device_initcall; the
    # Adreno SMMU's clocks (gcc, itself waiting for the RPMh clocks below
    # apps_rsc) and its GDSC (gpucc) hold it (fw_devlink) until deferred
    # probing starts at late_initcall -- without the links, DT order
    assert [i.dev.init_name for i in r.registered] == ["15000000.iommu", "5040000.iommu"]
    off = boot(sdm845, V614, BootConfig(fw_devlink="off"))
    assert off.findings == [] and [i.dev.init_name for i in off.registered] == ["5040000.iommu",
                                                                                "15000000.iommu"]
    assert all(i.fwnode is not None for i in r.registered)
    assert assert_smr_policy(sdm845, r) == 16
    by_node = _groups_by_node(r)
    # the BAM DMA and crypto engine list the same four SMRs; slimbus and its
    # BAM share SID 0x1806: one group each
    assert by_node["/soc@0/dma-controller@1dc4000"] is by_node["/soc@0/crypto@1dfa000"]
    assert by_node["/soc@0/slim-ngd@171c0000"] is by_node["/soc@0/dma-controller@17184000"]
    assert by_node["/soc@0/ufshc@1d84000"] is not by_node["/soc@0/mmc@8804000"]
    # each member's driver is bound and uses the default domain
    g = by_node["/soc@0/crypto@1dfa000"]
    assert g.owner_cnt == 2 and g.domain is g.default_domain


def test_sdm845_qcom_impl_picks_identity_for_display_and_gpu(sdm845: Board) -> None:
    r = boot(sdm845, V614)
    by_node = _groups_by_node(r)
    identity = {"/soc@0/display-subsystem@ae00000", "/soc@0/gpu@5000000", "/soc@0/gmu@506a000"}
    for path, grp in by_node.items():
        if grp is None:
            continue
        want = IOMMU_DOMAIN_IDENTITY if path in identity else IOMMU_DOMAIN_DMA
        assert grp.default_domain.type == want, path
    # arm_smmu_impl_init(): qcom_smmu_create() reallocated both instances
    impls = {i.dev.init_name: i.dev.driver_data.impl.name for i in r.registered}
    assert impls == {"5040000.iommu": "qcom_adreno_smmu_v2_impl",
                     "15000000.iommu": "sdm845_smmu_500_impl"}


def test_sdm845_without_scm_defers_the_qcom_smmus(sdm845: Board) -> None:
    """qcom_smmu_create(): no qcom_scm -> -EPROBE_DEFER; nothing registers."""
    import copy

    p = copy.deepcopy(sdm845)
    for n in p.nodes:
        if "qcom,scm" in n.compatible:
            n.status = "disabled"
    r = boot(p, V614)
    assert r.registered == []
    assert any("qcom_scm not ready" in line for line in r.log)


def test_juno_v614_generic_impl(juno: Board) -> None:
    r = boot(juno, V614)
    assert r.findings == [] and not r.panicked
    assert assert_smr_policy(juno, r) == 6
    by_node = _groups_by_node(r)
    # OHCI and EHCI both use SID 0 of the USB SMMU: one group; the two HDLCDs
    # use SID 0 of *different* SMMUs: two groups
    ohci, ehci = (n.path for n in clients_of(juno, "/iommu@7fb30000"))
    assert by_node[ohci] is by_node[ehci]
    hd = [n.path for n in juno.nodes if "arm,hdlcd" in n.compatible and n.available()]
    assert len(hd) == 2 and by_node[hd[0]] is not by_node[hd[1]]


def _legacy_masters(p: Board) -> dict[str, str]:
    """master node -> the SMMU whose "mmu-masters" lists it."""
    by_ph = {n.phandle: n for n in p.nodes}
    masters = {}
    for smmu in p.nodes:
        cells = smmu.props.get("mmu-masters")
        if not isinstance(cells, list):
            continue
        i = 0
        while i < len(cells):
            m = by_ph[cells[i]]
            masters[m.path] = smmu.path
            i += 1 + m.props["#stream-id-cells"][0]
    return masters


def _check_legacy(p: Board, r: Booted) -> tuple[str, dict[str, str]]:
    """What holds for the legacy binding in any boot order; returns the last
    SMMU to register and the masters."""
    assert not r.panicked
    assert len(r.registered) == 5 and all(i.fwnode is None for i in r.registered)
    last = r.registered[-1].dev.of_node.full_name
    masters = _legacy_masters(p)
    assert len(masters) == 6
    by_node = _groups_by_node(r)
    for m, smmu in masters.items():
        grp = by_node[m]
        if smmu == last:
            assert grp is None, m
        else:
            assert grp is not None and grp.default_domain.type == IOMMU_DOMAIN_IDENTITY, m
    usb = [m for m, s in masters.items() if s == "/iommu@7fb30000"]
    assert len(usb) == 2
    if last != "/iommu@7fb30000":
        assert by_node[usb[0]] is by_node[usb[1]]
    return last, masters


def test_legacy_mmu_masters_registers_null_fwnode(juno: Board) -> None:
    """Legacy binding: NULL-fwnode instances; a master is found only among the
    SMMUs *bound* to arm_smmu_driver (driver_for_each_device), so the masters
    of an SMMU get probed by a later SMMU's registration walk, never by its
    own; the masters of the last SMMU to register stay without a group (the
    C as it is: nothing re-probes them; no DMA API with this binding anyway).
    Grouped masters get IDENTITY (arm_smmu_def_domain_type) and share a group
    when they share a stream map entry.

    A legacy master names no IOMMU, so nothing defers its driver: it binds
    whenever its driver registers.  With fw_devlink the ETR SMMU
    (2b600000, ``power-domains = <&scpi_devpd 1>``) waits for the SCPI power
    domains and registers last, from deferred probing at late_initcall; the
    USB masters (generic-ohci/ehci, device level) are bound by then, and its
    walk groups them under their bound drivers: nothing takes a DMA-API
    ownership for them (owner_cnt stays 0, as in the C), invariant 6.  With
    fw_devlink=off the SMMUs register in DT order, the USB SMMU last: its
    masters stay without a group and nothing is reported."""
    p = legacy_mmu_masters(juno)
    r = boot(p, V614)
    last, masters = _check_legacy(p, r)
    assert last == "/iommu@2b600000"
    usb = sorted(m for m, s in masters.items() if s == "/iommu@7fb30000")
    by_node = _groups_by_node(r)
    assert by_node[usb[0]].owner_cnt == 0
    flagged = sorted((f.invariant, f.title, f.device) for f in r.findings)
    assert flagged == [(6, "iommu: bound device without default domain", name)
                       for name in ("7ffb0000.usb", "7ffc0000.usb")]
    off = boot(p, V614, BootConfig(fw_devlink="off"))
    last, _ = _check_legacy(p, off)
    assert last == "/iommu@7fb30000" and off.findings == []


def test_mixed_bindings_refuse_the_second_kind(juno: Board) -> None:
    """arm_smmu_device_dt_probe(): once one SMMU used the generic binding, an
    SMMU with "mmu-masters" is not probed (-ENODEV)."""
    import copy

    legacy = legacy_mmu_masters(juno)
    p = copy.deepcopy(juno)
    usb_legacy = next(n for n in legacy.nodes if n.path == "/iommu@7fb30000")
    idx = next(i for i, n in enumerate(p.nodes) if n.path == "/iommu@7fb30000")
    p.nodes[idx] = usb_legacy
    for n in p.nodes:
        if any(r.iommu == "/iommu@7fb30000" for r in n.iommus):
            n.iommus = ()
    r = boot(p, V614)
    assert "/iommu@7fb30000" not in {i.dev.of_node.full_name for i in r.registered}
    assert len(r.registered) == 4
    assert any("mismatched DT properties" in line for line in r.log)


def test_next_drvdata_after_register_oopses_in_probe_device(sdm845: Board) -> None:
    """Positive control for the order site: NEXT's walk reaches
    arm_smmu_probe_device() while drvdata is still NULL (6.12's order with
    v6.14's unchecked lookup)."""
    v = NEXT.with_values("t", "t", **{"arm_smmu_device_probe.drvdata": "after_register"})
    r = boot(sdm845, v)
    assert r.panicked
    f = r.findings[0]
    assert f.function == "arm_smmu_probe_device"
    assert f.trace[:6] == ["arm_smmu_probe_device", "__iommu_probe_device", "probe_iommu_group",
                           "bus_for_each_dev", "iommu_device_register", "arm_smmu_device_probe"]


def test_next_smr_masks_after_register_fails_the_apps_smmu(sdm845: Board) -> None:
    """smr_mask_mask is 0 until arm_smmu_test_smr_masks(): a masked client
    fails probe_device with -EINVAL inside the walk, which fails the whole
    registration in NEXT; V614 never probes DT clients in the walk."""
    site = {"arm_smmu_device_probe.smr_masks": "after_register"}
    nxt = boot(sdm845, NEXT.with_values("t", "t", **site))
    assert [i.dev.init_name for i in nxt.registered] == ["5040000.iommu"]
    assert any("SMR mask" in line and "out of range" in line for line in nxt.log)
    v614 = boot(sdm845, V614.with_values("t", "t", **site))
    assert len(v614.registered) == 2 and v614.findings == []


@pytest.mark.parametrize("site", ["arm_smmu_device_probe.drvdata", "arm_smmu_device_probe.smr_masks"])
@pytest.mark.parametrize("alt", ["after_register", "before_register"])
def test_order_sites_read_back_from_the_real_tree(kernel_tree: Path, tmp_path: Path, site: str,
                                                  alt: str) -> None:
    v: Variant = V614.with_values("t", "t", **{site: alt})
    text = patched_copy(kernel_tree, tmp_path, v, SITES[site].file)
    for name in ("arm_smmu_device_probe.drvdata", "arm_smmu_device_probe.smr_masks"):
        assert read_value(SITES[name], text) == v.value(name), name
    # the untouched 6.12 file: register first, then drvdata and the SMR probe
    orig = (kernel_tree / SITES[site].file).read_text()
    for name in ("arm_smmu_device_probe.drvdata", "arm_smmu_device_probe.smr_masks"):
        assert read_value(SITES[name], orig) == "after_register"


def test_ls1088a_fsl_mc_and_pci_clients(kernel_tree: Path) -> None:
    """MMU-500 with "iommu-map" clients on the fsl-mc and PCI buses
    (fsl-ls1088a-rdb; the fsl-mc map's length is 0 in the DT, "fixed-up by
    u-boot": given the length u-boot writes).  arm_smmu_device_group() takes
    the fsl-mc/PCI branches; no SMR is shared, so every client has its own
    group."""
    import dataclasses

    from harness.board import ExtraDevice

    p = load_platform_file(kernel_tree / "arch/arm64/boot/dts/freescale/fsl-ls1088a-rdb.dts")
    mc = next(n for n in p.nodes if "fsl,qoriq-mc" in n.compatible)
    mc.iommu_map = tuple(dataclasses.replace(e, length=0x10000) for e in mc.iommu_map)
    p.extra_devices = [ExtraDevice("dpni.0", "fsl-mc", mc.path, 5, ("fsl-mc:dpni",)),
                       ExtraDevice("dpni.1", "fsl-mc", mc.path, 6, ("fsl-mc:dpni",)),
                       ExtraDevice("0000:01:00.0", "pci", "/soc/pcie@3400000", 0, ("pci:ep",))]
    for v in (V614, NEXT):
        r = boot(p, v)
        assert r.findings == [], v.name
        names = ("dpni.0", "dpni.1", "0000:01:00.0")
        assert all(r.groups[n] is not None for n in names), v.name
        assert len({id(r.groups[n]) for n in names}) == 3
        # one cell: the mask is the SMMU's "stream-match-mask" (0x7c00 here)
        smm = next(n for n in p.nodes if n.path == "/soc/iommu@5000000").props["stream-match-mask"][0]
        assert smm == 0x7C00
        assert [r.devices[n].iommu.fwspec.ids for n in names] == [[smm << 16 | sid] for sid in (5, 6, 0)]


@pytest.mark.parametrize("v", [V614, NEXT], ids=lambda v: v.name)
def test_release_device_frees_shared_smes_last_user_last(sdm845: Board, v: Variant) -> None:
    """Removing the devices that share SMEs: arm_smmu_release_device() drops
    the S2CR counts; the last user frees the SMRs and forgets the cached
    group (s2cr_init_val); each member's group reference goes with it."""
    from harness.base.core import device_del
    from harness.boot import Boot, BootConfig
    from harness.kernel import set_kernel

    b = Boot(sdm845, v, BootConfig())
    k = b.run()
    try:
        devs = {d.init_name: d for d in b.devices()}
        crypto, bam = devs["1dfa000.crypto"], devs["1dc4000.dma-controller"]
        smmu = devs["15000000.iommu"].driver_data
        group = crypto.iommu_group
        idx = list(bam.iommu.priv.smendx)
        assert group is bam.iommu_group and group.refcount == 2
        assert [smmu.s2crs[i].count for i in idx] == [2, 2, 2, 2]
        k.kthread_create("unplug", device_del, crypto)
        k.run()
        assert crypto.iommu is None and crypto.iommu_group is None
        assert [smmu.s2crs[i].count for i in idx] == [1, 1, 1, 1]
        assert all(smmu.s2crs[i].group is group for i in idx) and group.refcount == 1
        k.kthread_create("unplug", device_del, bam)
        k.run()
        assert [smmu.s2crs[i].count for i in idx] == [0, 0, 0, 0]
        assert all(smmu.s2crs[i].group is None and not smmu.smrs[i].valid for i in idx)
        assert group.refcount == 0 and group.devices == []
        assert k.findings == []
    finally:
        set_kernel(None)
