"""corpus.dt: DTS/DTB/JSON to Board, on fixtures and on the real 6.12 tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from corpus.dt import DtError, dtb_to_platform, dts_to_dtb, load_platform_file
from harness.board import Board, IommuMapEntry, IommuRef, load_board

FIXTURES = Path(__file__).parent / "fixtures"
ODROID = "arch/arm64/boot/dts/rockchip/rk3568-odroid-m1.dts"


def fixture(name: str) -> Board:
    return load_platform_file(FIXTURES / f"{name}.dtb")


def dtc(source: str, tmp_path: Path) -> bytes:
    """Compile DTS text with the host dtc (no cpp)."""
    exe = shutil.which("dtc")
    if exe is None:
        pytest.skip("dtc not installed")
    src = tmp_path / "t.dts"
    src.write_text("/dts-v1/;\n" + source)
    return subprocess.run([exe, "-I", "dts", "-O", "dtb", "-q", "-o", "-", str(src)],
                          check=True, capture_output=True, timeout=60).stdout


@pytest.fixture(scope="session")
def tree(request: pytest.FixtureRequest) -> Path:
    """The real kernel tree: $PROBEFUZZ_KERNEL_TREE, else the ``kernel_tree`` fixture."""
    env = os.environ.get("PROBEFUZZ_KERNEL_TREE")
    if env:
        return Path(env)
    return Path(request.getfixturevalue("kernel_tree"))


# -- fixtures: what the conversion keeps ----------------------------------------


@pytest.mark.parametrize("name", ["iommu-map", "dma-ranges", "multi-iommu"])
def test_committed_dtb_matches_its_source(name: str, tmp_path: Path) -> None:
    src = (FIXTURES / f"{name}.dts").read_text().replace("/dts-v1/;\n", "", 1)
    assert dtc(src, tmp_path) == (FIXTURES / f"{name}.dtb").read_bytes()


def test_iommu_map_and_mask_resolved_to_paths() -> None:
    p = fixture("iommu-map")
    pcie = p.node_map()["/pcie@40000000"]
    assert pcie.iommu_map == (
        IommuMapEntry(0x0, "/iommu@2b400000", 0x10000, 0x100),
        IommuMapEntry(0x100, "/iommu@2b400000", 0x20000, 0xFF00),
    )
    assert pcie.iommu_map_mask == 0xFF00
    # PCI bus: the flags cell (0x02000000) of the child address is not part of it.
    assert pcie.dma_ranges == ((0x80000000, 0x80000000, 0x80000000),)
    assert pcie.dma_coherent
    assert pcie.props["device_type"] == "pci"
    assert pcie.props["ats-supported"] is True
    assert pcie.props["bus-range"] == [0, 0xFF]
    assert pcie.props["msi-parent"] == [p.node_map()["/msi-controller@2f020000"].phandle]
    smmu = p.node_map()["/iommu@2b400000"]
    assert smmu.iommu_cells == 1 and smmu.compatible == ("arm,smmu-v3",)
    assert p.model == "probefuzz fixture: iommu-map"


def test_dma_ranges_cell_sizes() -> None:
    nodes = fixture("dma-ranges").node_map()
    # 1 address cell, 2 parent address cells (root), 1 size cell.
    assert nodes["/soc"].dma_ranges == ((0x0, 0x8_0000_0000, 0x40000000),
                                        (0x40000000, 0x40000000, 0xC0000000))
    assert nodes["/soc/subbus"].dma_ranges == ()  # empty: 1:1
    # No cells of its own: the kernel takes the nearest ancestor's (1/1), parent 1.
    assert nodes["/soc/inherit"].dma_ranges == ((0x10000000, 0x20000000, 0x1000),)
    assert nodes["/wide"].dma_ranges == ((0, 0, 1 << 32),)
    assert nodes["/plain@50000000"].dma_ranges is None
    assert nodes["/soc/dma@1000"].dma_ranges is None


def test_multiple_iommus_disabled_nodes_and_dropped_config_nodes() -> None:
    p = fixture("multi-iommu")
    nodes = p.node_map()
    assert nodes["/gpu@4000"].iommus == (IommuRef("/iommu@1000", (0x10, 0x3)),
                                         IommuRef("/iommu@2000", ()))
    assert nodes["/gpu@4000"].dma_coherent
    assert nodes["/vpu@5000"].iommus == (IommuRef("/iommu@1000", (0x20, 0)),
                                         IommuRef("/iommu@1000", (0x21, 0)))
    assert nodes["/isp@6000"].status == "disabled"
    assert not nodes["/isp@6000"].available()
    assert nodes["/iommu@3000"].status == "disabled" and nodes["/iommu@3000"].iommu_cells == 0
    assert nodes["/iommu@1000"].compatible == ("arm,mmu-500", "arm,smmu-v2")
    assert nodes["/iommu@1000"].props == {"reg": [0x1000, 0x1000], "stream-match-mask": [0x7C00],
                                          "#global-interrupts": [1]}
    assert nodes["/iommu@2000"].props["rockchip,disable-mmu-reset"] is True
    # pinctrl has a compatible and stays; its groups and "config" do not.
    assert "/pinctrl" in nodes
    assert not any(path.startswith("/pinctrl/") for path in nodes)
    assert "/config" not in nodes
    # DT order is kept.
    assert [n.path for n in p.nodes] == ["/", "/iommu@1000", "/iommu@2000", "/iommu@3000",
                                         "/gpu@4000", "/vpu@5000", "/isp@6000", "/pinctrl"]


def test_dtb_file_name_and_provenance() -> None:
    p = fixture("multi-iommu")
    assert p.name == "multi-iommu"
    assert p.firmware == "dt"
    assert p.provenance["source"].endswith("multi-iommu.dtb")
    assert len(p.provenance["sha256"]) == 64


@pytest.mark.parametrize("name", ["iommu-map", "dma-ranges", "multi-iommu"])
def test_json_round_trip_is_identical(name: str, tmp_path: Path) -> None:
    p = fixture(name)
    assert Board.from_json(p.to_json()) == p
    out = tmp_path / f"{name}.json"
    p.save(out)
    assert load_board(out) == p
    assert load_platform_file(out) == p


def test_iommu_provider_without_compatible_is_kept(tmp_path: Path) -> None:
    blob = dtc("""/ { #address-cells = <1>; #size-cells = <1>;
        bus { mmu: mmu { #iommu-cells = <1>; }; };
        dev { compatible = "x,dev"; iommus = <&mmu 7>; }; };""", tmp_path)
    p = dtb_to_platform(blob, "t", {})
    assert [n.path for n in p.nodes] == ["/", "/bus", "/bus/mmu", "/dev"]
    assert p.node_map()["/dev"].iommus == (IommuRef("/bus/mmu", (7,)),)


# -- malformed properties name node and property ---------------------------------


@pytest.mark.parametrize(
    "body, message",
    [
        ('mmu: m { #iommu-cells = <2>; }; d { compatible = "x"; iommus = <&mmu 1>; };',
         "/d: iommus: entry 0: /m needs 2 cells, only 1 left"),
        ('mmu: m { compatible = "x"; }; d { compatible = "x"; iommus = <&mmu>; };',
         "/d: iommus: entry 0: /m has no #iommu-cells"),
        ('d { compatible = "x"; iommus = <0x1234>; };',
         "/d: iommus: entry 0: phandle 0x1234 does not refer to any node"),
        ('mmu: m { #iommu-cells = <1>; }; d { compatible = "x"; iommu-map = <0 &mmu 0>; };',
         "/d: iommu-map: 3 cells is not a multiple of 4"),
        ('d { compatible = "x"; iommus = [00 01]; };',
         "/d: iommus: 2 bytes is not a whole number of cells"),
        ('b { compatible = "x"; #address-cells = <1>; #size-cells = <1>; dma-ranges = <0 0 0>; };',
         "/b: dma-ranges: 3 cells is not a multiple of 1+2+1 (address+parent+size)"),
        ('d { compatible = "x"; status = [6f 6b]; };',
         "/d: status: not a NUL-terminated string list"),
        ('d { compatible = [ff fe 00]; };',
         "/d: compatible: string is not valid UTF-8"),
        ('m { #iommu-cells = <1 2>; };',
         "/m: #iommu-cells: expected one cell, got 8 bytes"),
    ],
)
def test_malformed_property_is_a_dt_error(body: str, message: str, tmp_path: Path) -> None:
    blob = dtc(f"/ {{ {body} }};", tmp_path)
    with pytest.raises(DtError) as e:
        dtb_to_platform(blob, "t", {}, label="t.dtb")
    assert str(e.value) == f"t.dtb: {message}"


# -- bad files -----------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DtError, match=r"nothere\.dtb: no such file$"):
        load_platform_file(tmp_path / "nothere.dtb")


def test_dts_outside_a_kernel_tree(tmp_path: Path) -> None:
    src = tmp_path / "x.dts"
    src.write_text("/dts-v1/;\n/ { };\n")
    with pytest.raises(DtError, match=r"x\.dts: not inside a kernel tree"):
        load_platform_file(src)


def test_truncated_dtb(tmp_path: Path) -> None:
    f = tmp_path / "foo.dtb"
    f.write_bytes((FIXTURES / "multi-iommu.dtb").read_bytes()[:512])
    with pytest.raises(DtError) as e:
        load_platform_file(f)
    assert str(e.value) == f"{f}: truncated: header says 1216 bytes, file has 512"


def test_garbage_dtb(tmp_path: Path) -> None:
    f = tmp_path / "foo.dtb"
    f.write_bytes(b"this is not a device tree at all, just some text\n" * 3)
    with pytest.raises(DtError) as e:
        load_platform_file(f)
    assert str(e.value) == f"{f}: not a flattened device tree (bad magic)"


def test_short_blob() -> None:
    with pytest.raises(DtError, match=r"^x: truncated: 8 bytes is shorter than the 40-byte"):
        dtb_to_platform(b"\xd0\x0d\xfe\xed\0\0\0\x08", "x", {})


def test_oversized_header_totalsize() -> None:
    blob = bytearray((FIXTURES / "multi-iommu.dtb").read_bytes())
    blob[4:8] = (0x7FFFFFF0).to_bytes(4, "big")
    with pytest.raises(DtError, match=r"more than the \d+-byte limit"):
        dtb_to_platform(bytes(blob), "x", {})
    blob[4:8] = (len(blob) + 4096).to_bytes(4, "big")
    with pytest.raises(DtError, match=r"truncated: header says \d+ bytes, file has 1216"):
        dtb_to_platform(bytes(blob), "x", {})


def test_block_offsets_outside_the_tree() -> None:
    blob = bytearray((FIXTURES / "multi-iommu.dtb").read_bytes())
    blob[12:16] = (0x10000).to_bytes(4, "big")  # off_dt_strings
    with pytest.raises(DtError, match=r"strings block at offset 65536 .* outside"):
        dtb_to_platform(bytes(blob), "x", {})


def test_unknown_format(tmp_path: Path) -> None:
    f = tmp_path / "board.txt"
    f.write_text("hello")
    with pytest.raises(DtError, match=r"board\.txt: unknown format"):
        load_platform_file(f)


# -- the real tree -------------------------------------------------------------


@pytest.fixture(scope="module")
def odroid(tree: Path) -> Board:
    return load_platform_file(tree / ODROID)


@pytest.mark.kernel_tree
def test_odroid_m1_iommus(odroid: Board) -> None:
    assert odroid.name == "rk3568-odroid-m1"
    assert odroid.model == "Hardkernel ODROID-M1"
    nodes = odroid.node_map()
    mmus = {n.path: n for n in odroid.nodes if "rockchip,rk3568-iommu" in n.compatible}
    # rk356x.dtsi: vdpu_mmu and vepu_mmu have no status; vop_mmu is disabled
    # there and enabled by the board file.
    assert sorted(mmus) == ["/iommu@fdea0800", "/iommu@fdee0800", "/iommu@fe043e00"]
    assert all(m.available() and m.iommu_cells == 0 for m in mmus.values())
    clients = {n.path: n.iommus for n in odroid.nodes if n.iommus}
    assert clients == {
        "/video-codec@fdea0400": (IommuRef("/iommu@fdea0800", ()),),
        "/video-codec@fdee0000": (IommuRef("/iommu@fdee0800", ()),),
        "/vop@fe040000": (IommuRef("/iommu@fe043e00", ()),),
    }
    assert nodes["/vop@fe040000"].available()  # "&vop { status = "okay"; }" in the board
    # No rockchip source for this board has dma-ranges.
    assert all(n.dma_ranges is None for n in odroid.nodes)
    assert odroid.provenance["source"] == ODROID
    assert odroid.provenance["tree_version"].startswith("6.12")
    assert len(odroid.provenance["sha256"]) == 64


@pytest.mark.kernel_tree
def test_odroid_dtb_and_json_paths_agree(odroid: Board, tree: Path, tmp_path: Path) -> None:
    blob = dts_to_dtb(tree / ODROID)
    f = tmp_path / "rk3568-odroid-m1.dtb"
    f.write_bytes(blob)
    from_dtb = load_platform_file(f)
    assert from_dtb.provenance["sha256"] == odroid.provenance["sha256"]
    from_dtb.provenance = odroid.provenance
    assert from_dtb == odroid
    j = tmp_path / "rk3568-odroid-m1.json"
    odroid.save(j)
    assert load_platform_file(j) == odroid


@pytest.mark.kernel_tree
def test_dtc_error_names_the_board(tree: Path, tmp_path: Path) -> None:
    # A scratch tree that shares everything with the real one except one
    # broken board (the real tree is read-only).
    fake = tmp_path / "linux"
    fake.mkdir()
    for entry in tree.iterdir():
        if entry.name not in ("arch", ".git"):
            (fake / entry.name).symlink_to(entry)
    board_dir = fake / "arch" / "arm64" / "boot" / "dts" / "probefuzz"
    board_dir.mkdir(parents=True)
    bad = board_dir / "broken.dts"
    bad.write_text("/dts-v1/;\n/ {\n\tmodel = \"x\"\n};\n")  # missing ';'
    with pytest.raises(DtError, match=r"broken\.dts: dtc failed: .*broken\.dts:4"):
        load_platform_file(bad)


def test_dma_master_without_compatible_is_kept(tmp_path: Path) -> None:
    # qcom venus/ath10k style: the driver creates a device for the firmware
    # subnode itself and calls of_dma_configure() on it.
    blob = dtc("""/ { #address-cells = <1>; #size-cells = <1>;
        mmu: iommu@1000 { compatible = "arm,mmu-500"; reg = <0x1000 0x100>; #iommu-cells = <1>; };
        video@2000 { compatible = "qcom,venus"; reg = <0x2000 0x100>; iommus = <&mmu 0x10>;
            video-firmware { iommus = <&mmu 0x12>; };
            pins { function = "x"; }; }; };""", tmp_path)
    nodes = dtb_to_platform(blob, "t", {}).node_map()
    assert nodes["/video@2000/video-firmware"].iommus == (IommuRef("/iommu@1000", (0x12,)),)
    assert nodes["/video@2000/video-firmware"].compatible == ()
    assert "/video@2000/pins" not in nodes


def test_fw_devlink_supplier_properties_and_their_targets_are_kept(tmp_path: Path) -> None:
    """The of_supplier_bindings[] entries the model follows (clocks,
    interconnects, dmas, power-domains, phys, resets) stay as phandle lists
    with their providers' #cells; a supplier without a compatible (a power
    domain below its controller) is kept with its ancestors, a node no kept
    node points at is not."""
    blob = dtc("""/ { #address-cells = <1>; #size-cells = <1>;
        osc: osc { compatible = "fixed-clock"; #clock-cells = <0>; };
        pmu { compatible = "x,pmu"; pc { pd: pd@1 { #power-domain-cells = <0>; }; };
              spare: pd@2 { #power-domain-cells = <0>; }; };
        unused { compatible = "x,unused"; gone: pd@3 { #power-domain-cells = <0>; }; };
        cru: cru@1000 { compatible = "x,cru"; reg = <0x1000 0x100>; #clock-cells = <1>;
                        #reset-cells = <1>; };
        phy: phy@2000 { compatible = "x,phy"; reg = <0x2000 0x100>; #phy-cells = <0>; };
        dev@3000 { compatible = "x,dev"; reg = <0x3000 0x100>; clocks = <&osc>, <&cru 5>;
                   resets = <&cru 2>; power-domains = <&pd>; phys = <&phy>;
                   pinctrl-0 = <&spare>; };
        off@4000 { compatible = "x,off"; reg = <0x4000 0x100>; status = "disabled"; }; };""", tmp_path)
    nodes = dtb_to_platform(blob, "t", {}).node_map()
    dev = nodes["/dev@3000"].props
    osc, cru, pd, phy = (nodes[p].phandle for p in ("/osc", "/cru@1000", "/pmu/pc/pd@1", "/phy@2000"))
    assert dev["clocks"] == [osc, cru, 5] and dev["resets"] == [cru, 2]
    assert dev["power-domains"] == [pd] and dev["phys"] == [phy]
    assert dev["pinctrl-0"] == [nodes["/pmu/pd@2"].phandle]  # pinctrl-N: bare phandles
    assert nodes["/cru@1000"].props["#clock-cells"] == [1] and nodes["/cru@1000"].props["#reset-cells"] == [1]
    assert "/pmu/pc" in nodes and nodes["/pmu/pc/pd@1"].props == {"#power-domain-cells": [0]}
    assert "/unused/pd@3" not in nodes


def test_pinctrl_regulator_and_gpio_bindings_are_kept(tmp_path: Path) -> None:
    """pinctrl-0..8 (their configuration nodes kept with the pin controller),
    the DEFINE_SUFFIX_PROP bindings (*-supply, *-gpio, *-gpios, not
    *,nr-gpios) and gpio/gpios unless below a gpio-hog; a phandle list stops
    at a provider without the binding's #cells, as of_parse_phandle_with_args()
    does."""
    blob = dtc("""/ { #address-cells = <1>; #size-cells = <1>;
        pio: pinctrl@1000 { compatible = "x,pinctrl"; reg = <0x1000 0x100>;
            uart_pins: uart { pins { pins = "PA1"; }; }; uart_sleep: uart-sleep { };
            gpio: gpio-bank { gpio-controller; #gpio-cells = <2>; }; };
        vcc: regulator-vcc { compatible = "regulator-fixed"; };
        mbox: mailbox@2000 { compatible = "x,mbox"; reg = <0x2000 0x100>; };
        dev@3000 { compatible = "x,dev"; reg = <0x3000 0x100>; pinctrl-names = "default", "sleep";
                   pinctrl-0 = <&uart_pins>; pinctrl-1 = <&uart_sleep>; vdd-supply = <&vcc>;
                   reset-gpios = <&gpio 3 0>; enable-gpio = <&gpio 4 0>; x,nr-gpios = <8>;
                   mboxes = <&mbox 1>; panel = "panel"; foo-supply = "ab"; }; };""", tmp_path)
    nodes = dtb_to_platform(blob, "t", {}).node_map()
    dev = nodes["/dev@3000"].props
    ph = {p: nodes[p].phandle for p in ("/pinctrl@1000/uart", "/pinctrl@1000/uart-sleep",
                                         "/pinctrl@1000/gpio-bank", "/regulator-vcc")}
    assert dev["pinctrl-0"] == [ph["/pinctrl@1000/uart"]]
    assert dev["pinctrl-1"] == [ph["/pinctrl@1000/uart-sleep"]]
    assert dev["vdd-supply"] == [ph["/regulator-vcc"]]
    assert dev["reset-gpios"] == [ph["/pinctrl@1000/gpio-bank"], 3, 0]
    assert dev["enable-gpio"] == [ph["/pinctrl@1000/gpio-bank"], 4, 0]
    assert "x,nr-gpios" not in dev and "pinctrl-names" not in dev
    assert "panel" not in dev and "foo-supply" not in dev  # strings, no phandle lists
    assert nodes["/pinctrl@1000/gpio-bank"].props == {"#gpio-cells": [2]}
    assert "/pinctrl@1000/uart/pins" not in nodes  # nobody points at it
    # mboxes kept, but "/mailbox@2000" has no #mbox-cells: parse_prop_cells() stops there
    assert dev["mboxes"] == [nodes["/mailbox@2000"].phandle, 1]


@pytest.mark.kernel_tree
def test_odroid_m1_keeps_its_suppliers(odroid: Board) -> None:
    """rk356x.dtsi: the VOP's IOMMU names the CRU's clocks and the VO power
    domain (a subnode of the PMU's power controller); the GPU's clock is an
    SCMI protocol node below /firmware."""
    nodes = odroid.node_map()
    by_ph = {n.phandle: n.path for n in odroid.nodes if n.phandle is not None}
    mmu = nodes["/iommu@fe043e00"].props
    assert by_ph[mmu["clocks"][0]] == "/clock-controller@fdd20000"
    assert mmu["power-domains"] and by_ph[mmu["power-domains"][0]] == \
        "/power-management@fdd90000/power-controller"
    assert by_ph[nodes["/gpu@fde60000"].props["clocks"][0]] == "/firmware/scmi/protocol@14"
    assert nodes["/firmware/scmi/protocol@14"].props["#clock-cells"] == [1]
