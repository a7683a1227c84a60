"""The ``probefuzz repro`` contract: exit codes, JSON shape, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BOARD = "arch/arm64/boot/dts/rockchip/rk3568-odroid-m1.dts"


def probefuzz(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fuzz.cli", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.kernel_tree
def test_repro_json_next_and_v614(kernel_tree: Path) -> None:
    r = probefuzz("repro", "--variant", "NEXT", "--json", str(kernel_tree / BOARD))
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"variant", "platform", "findings", "stats", "lints"}
    assert out["variant"] == "NEXT" and out["platform"] == "rk3568-odroid-m1"
    f = out["findings"][0]
    assert {"kind", "title", "function", "device", "trace"} <= set(f)
    assert f["kind"] == "oops" and f["function"] == "rk_iommu_of_xlate"
    assert set(out["stats"]) == {"devices", "iommu_instances", "registered_instances", "clients",
                                 "grouped_clients", "groups", "bound_drivers", "deferred"}
    r = probefuzz("repro", "--variant", "V614", str(kernel_tree / BOARD))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 finding(s)" in r.stdout


@pytest.mark.kernel_tree
def test_repro_lint_alone_exits_0(kernel_tree: Path) -> None:
    """sc7280 lists the crypto engine's SMMU specifier twice; the C appends the
    duplicate silently, so the lint is printed but the run has no finding."""
    r = probefuzz("repro", "--variant", "V614", "--json",
                  str(kernel_tree / "arch/arm64/boot/dts/qcom/sc7280-idp.dts"))
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["findings"] == []
    [lint] = out["lints"]
    assert lint["kind"] == "lint" and lint["device"] == "1dfa000.crypto"


@pytest.mark.kernel_tree
def test_repro_kernel_log_shape(kernel_tree: Path) -> None:
    r = probefuzz("repro", "--variant", "NEXT", str(kernel_tree / BOARD))
    assert r.returncode == 1
    assert "Unable to handle kernel NULL pointer dereference at virtual address" in r.stdout
    assert "Call trace:" in r.stdout and "  rk_iommu_of_xlate\n" in r.stdout
    assert "Kernel panic - not syncing: Attempted to kill init!" in r.stdout


def _bad(args: list[str], needle: str) -> None:
    r = probefuzz(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_bad_inputs(tmp_path: Path) -> None:
    _bad(["repro", str(tmp_path / "missing.dtb")], "no such file")
    garbage = tmp_path / "g.dtb"
    garbage.write_bytes(b"\x00garbage" * 20)
    _bad(["repro", str(garbage)], "g.dtb")
    trunc = tmp_path / "t.dtb"
    trunc.write_bytes(bytes.fromhex("d00dfeed") + (100000).to_bytes(4, "big") + b"\0" * 40)
    _bad(["repro", str(trunc)], "t.dtb")
    dts = tmp_path / "x.dts"
    dts.write_text("/dts-v1/;\n/ { };\n")
    _bad(["repro", str(dts)], "not inside a kernel tree")
    js = tmp_path / "p.json"
    js.write_text(json.dumps({"format": "probefuzz-platform", "version": 1, "name": "p",
                              "nodes": [{"path": "/"}, {"path": "/a/b"}]}))
    _bad(["repro", str(js)], "nodes[1].path")


@pytest.mark.kernel_tree
def test_unknown_variant(kernel_tree: Path) -> None:
    _bad(["repro", "--variant", "V999", str(kernel_tree / BOARD)], "unknown variant")


def test_repro_replays_a_stored_reproducer(tmp_path: Path) -> None:
    """A reproducer saved in the crash store replays to the same finding."""
    from fuzz.crashstore import make_reproducer
    from harness.board import load_board
    from harness.run import run_scenario
    from harness.variant import NEXT, variant_to_json

    board = Path(__file__).resolve().parents[2] / "corpus" / "boards" / "rk3568-odroid-m1.json"
    p = load_board(board)
    f = run_scenario(p, NEXT).findings[0]
    rep = make_reproducer(f, platform=p, variant=variant_to_json(NEXT), schedule=[])
    path = tmp_path / "rep.json"
    path.write_text(json.dumps(rep.to_json()))
    r = probefuzz("repro", "--json", str(path))
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["variant"] == "NEXT"
    assert out["findings"][0]["title"] == f.title
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "probefuzz-reproducer", "version": 99}')
    _bad(["repro", str(bad)], "bad.json")


def test_repro_pci_declares_functions_behind_the_host_bridge() -> None:
    board = str(Path(__file__).parents[2] / "corpus/boards/fvp-base-revc.json")
    r = probefuzz("repro", "--variant", "V614", "--json", "--pci", "01:00.0=pci1af4,1041", board)
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)["stats"]
    # 00:00.0 (no driver, V614: no fwspec) and the declared endpoint (grouped)
    assert (st["clients"], st["grouped_clients"]) == (2, 1)
    bad = probefuzz("repro", "--pci", "01:00.9", board)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "PCI function '01:00.9'" in bad.stderr
