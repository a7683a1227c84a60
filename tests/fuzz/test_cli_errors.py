"""Every bad input is one line of at most 300 characters on stderr and exit 2
(issue 14's defects, one test each); a closed stdout ends quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.cli import MESSAGE_LIMIT, main
from mutators.space import space

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "corpus" / "examples" / "sprd-example.json"


def _rejected(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI in-process; assert exit 2 and one bounded line; return it."""
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse
        code = e.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, err[:500]
    assert len(err) - 1 <= MESSAGE_LIMIT
    assert "Traceback" not in err
    return err


def _deep(path: Path, head: str = "") -> Path:
    path.write_text(head + "[" * 100_000 + "]" * 100_000)
    return path


def test_deep_platform_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _rejected(capsys, "repro", str(_deep(tmp_path / "deep.json")))
    assert "deep.json" in err and "nested" in err


def test_deep_variant_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _rejected(capsys, "repro", "--variant", str(_deep(tmp_path / "v.json")), str(EXAMPLE))
    assert "v.json" in err and "nested" in err


def test_deep_reproducer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "r.json"
    p.write_text('{"format": "probefuzz-reproducer", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    err = _rejected(capsys, "repro", str(p))
    assert "r.json" in err and "nested" in err


@pytest.mark.parametrize("verb", ["repro", "fuzz", "regress", "apply", "propose", "validate"])
def test_long_variant_argument(verb: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [verb, "--variant", "x" * 5000]
    argv += {"repro": [str(EXAMPLE)], "fuzz": ["--engine", "native", str(EXAMPLE)],
             "regress": [], "apply": ["--tree", str(tmp_path)], "propose": ["--tree", str(tmp_path)],
             "validate": ["--tree", str(tmp_path)]}[verb]
    _rejected(capsys, *argv)


def test_props_cell_of_the_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = json.loads(EXAMPLE.read_text())
    d["nodes"][1]["props"] = {"#address-cells": ["2"]}
    p = tmp_path / "b.json"
    p.write_text(json.dumps(d))
    err = _rejected(capsys, "repro", str(p))
    assert "b.json: nodes[1].props.#address-cells[0]: expected a u32 cell, got str" in err


@pytest.mark.parametrize("acpi, message", [
    ({"dma": {}}, "extra_devices[0].acpi.dma: expected 'coherent', 'noncoherent' or 'none'"),
    ({"iort": []}, "extra_devices[0].acpi.iort: expected an object"),
    ({"iort": {"ids": [1]}}, "extra_devices[0].acpi.iort.iommu: expected a string"),
    ({"iort": {"iommu": "smmu", "ids": ["1"]}}, "extra_devices[0].acpi.iort.ids[0]: expected an integer"),
    ({"iort": {"iommu": "smmu", "ids": [1 << 32]}}, "extra_devices[0].acpi.iort.ids[0]: expected a 32-bit"),
    ({"dma_ranges": [[0, 0]]}, "extra_devices[0].acpi.dma_ranges[0]: expected [child, parent, size]"),
])
def test_acpi_device_description_of_the_wrong_type(acpi: object, message: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """``{"dma": {}}`` reached acpi_get_dma_attr() as a dict key (TypeError,
    exit 3; found by bench_inputs, seed 3)."""
    d = json.loads((ROOT / "corpus" / "examples" / "x86-vtd-example.json").read_text())
    d["extra_devices"][0]["acpi"] = acpi
    p = tmp_path / "b.json"
    p.write_text(json.dumps(d))
    assert message in _rejected(capsys, "repro", str(p))


@pytest.mark.parametrize("spec", ["00:01.0\n", "zz:01.0", "00:20.0", "0:0:0:0.0", "00:01.0=" + "x" * 5000,
                                  "x" * 100_000])
def test_repro_pci_option(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = _rejected(capsys, "repro", "--pci", spec, str(EXAMPLE))
    assert "argument --pci: PCI function" in err


@pytest.mark.parametrize("pci, field", [(5, "pci[0]"), ("00:1f.8", "pci[0]"), ("0:0:0:0.0", "pci[0]")])
def test_board_pci_field(pci: object, field: str, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    d = json.loads(EXAMPLE.read_text())
    d["pci"] = [pci]
    p = tmp_path / "b.json"
    p.write_text(json.dumps(d))
    err = _rejected(capsys, "repro", str(p))
    assert f"b.json: {field}:" in err


@pytest.mark.parametrize("field, value, message", [
    ("pci", "00:01.0", "pci: expected a list"),
    ("pci", [["00:01.0"]], "pci: expected a list"),
    ("pci", ["00:01.0", "00:01.9"], "pci[1]: PCI function '00:01.9'"),
    ("fw_devlink", ["on"], "fw_devlink: expected a string"),
    ("fw_devlink", "sometimes", "fw_devlink: one of"),
])
def test_reproducer_boot_config_pci_and_fw_devlink(field: str, value: object, message: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from fuzz.crashstore import FORMAT, VERSION
    from harness.variant import NEXT, variant_to_json

    d = {"format": FORMAT, "version": VERSION, "title": "t", "finding": {"title": "t"},
         "platform": {"embedded": json.loads(EXAMPLE.read_text())}, "variant": variant_to_json(NEXT),
         "schedule": [], "config": {field: value}, "tool_version": ""}
    p = tmp_path / "r.json"
    p.write_text(json.dumps(d))
    err = _rejected(capsys, "repro", str(p))
    assert "r.json" in err and message in err


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "1e400"])
def test_timeout_must_be_finite_and_positive(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = _rejected(capsys, "apply", "--variant", "NEXT", "--tree", "/nonexistent", "--timeout", value)
    assert "--timeout" in err


@pytest.mark.parametrize("verb", ["explore", "propose"])
def test_out_dev_null(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    extra = ["--variant", "NEXT", "--tree", "/nonexistent"] if verb == "propose" else []
    err = _rejected(capsys, verb, *extra, "--out", "/dev/null")
    assert "--out /dev/null: exists and is not a directory" in err


@pytest.mark.parametrize("mbox", ["/dev/null", "/"])
def test_prerequisites_mbox_must_be_a_file_path(mbox: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = _rejected(capsys, "propose", "--variant", "NEXT", "--tree", "/nonexistent",
                    "--prerequisites-mbox", mbox)
    assert f"--prerequisites-mbox {mbox}:" in err


def test_long_regress_base(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _rejected(capsys, "regress", "--variant", "NEXT", "--base", "x" * 5000, "--crashes", str(tmp_path))


def test_variants_depth_above_the_limit_states_the_count(capsys: pytest.CaptureFixture[str]) -> None:
    err = _rejected(capsys, "variants", "--depth", "3")
    assert "366,725 variants" in err  # the depth-3 space around NEXT
    _rejected(capsys, "variants", "--depth", "99")


def test_huge_value_is_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    _rejected(capsys, "fuzz", "--runs", "9" * 10_000_000)
    _rejected(capsys, "apply", "--variant", "a\nb" * 1000, "--tree", "/nonexistent")


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    _rejected(capsys)
    _rejected(capsys, "nosuchverb")
    _rejected(capsys, "explore", "--depth")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("probefuzz ")


def test_broken_pipe_ends_quietly() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable} -m fuzz.cli variants --depth 1 "
                        "| head -1"], capture_output=True, text=True, env=env, timeout=120)
    assert r.stdout.startswith(f"{len(space('NEXT', 1))} variants") and r.stderr == "" and r.returncode == 0


def test_propose_without_spatch_leaves_no_out(tmp_path: Path) -> None:
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for tool in ("git",):
        (bin_ / tool).symlink_to(subprocess.run(["which", tool], capture_output=True, text=True,
                                                check=True).stdout.strip())
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT), PATH=str(bin_))
    r = subprocess.run([sys.executable, "-m", "fuzz.cli", "propose", "--variant", "NEXT", "--tree",
                        str(tmp_path), "--out", str(out)], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 2 and "spatch not found: install Debian package 'coccinelle'" in r.stderr
    assert not out.exists()


def test_variant_file_with_null_choice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by bench_inputs: a choice site set to null reached the model (AssertionError)."""
    p = tmp_path / "v.json"
    p.write_text(json.dumps({"name": "x", "sites": {"rk_iommu_probe.dma_dev": None}}))
    err = _rejected(capsys, "repro", "--variant", str(p), str(EXAMPLE))
    assert "sites.rk_iommu_probe.dma_dev: None is not one of" in err
