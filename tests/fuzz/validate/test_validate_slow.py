"""End to end on the real tree: apply, build an Image, boot it under QEMU,
compare with the model (slow: a warm build is a minute or two, a cold one
tens of minutes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzz.cli import main
from mutators import gitrepo

pytestmark = pytest.mark.slow


@pytest.mark.kernel_tree
def test_v614_on_virt_smmuv3_end_to_end(kernel_tree: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    heads = [h.name for h in gitrepo.open_tree(kernel_tree).heads]
    log = tmp_path / "console.log"
    rc = main(["validate", "--variant", "V614", "--tree", str(kernel_tree), "--machine", "smmuv3",
               "--device", "virtio-rng-pci", "--device", "virtio-balloon-pci",
               "--device", "pci-testdev", "--console-log", str(log), "--json"])
    out = json.loads(capsys.readouterr().out)
    # the five scenarios of docs/validate.md agree; this is one of them
    assert out["agree"] and rc == 0
    real = out["real"]
    assert real["complete"] and not real["timed_out"]
    assert real["version"].startswith("6.12")
    # the real kernel: the virtio endpoints behind the SMMUv3 in a group of
    # their own, bound by virtio-pci; the test device and the host bridge
    # (no driver) in none: 6.12 groups at driver bind
    rows = {r["device"]: r for r in out["comparison"]["devices"]}
    for name in ("0000:00:01.0", "0000:00:02.0"):
        assert rows[name]["real"] == [name]
    assert rows["0000:00:00.0"]["real"] is None and rows["0000:00:03.0"]["real"] is None
    assert out["tree_facts"] == {"arm_smmu_v3.get_by_fwnode": "driver_find_device_by_fwnode"}
    assert real["drivers"]["0000:00:01.0"] == "virtio-pci"
    assert real["drivers"]["0000:00:03.0"] is None
    assert "probefuzz: done" in log.read_text()
    # validate leaves no branch or worktree in the tree
    repo = gitrepo.open_tree(kernel_tree)
    assert [h.name for h in repo.heads] == heads
    assert not any("validate" in w.get("branch", "") for w in gitrepo.list_worktrees(repo))
