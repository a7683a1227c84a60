"""propose's parts without a kernel tree: prefixes, Fixes, recipients, checkpatch
verdicts, the explore ranking and trace trimming."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import git
import pytest

from mutators.propose import checkpatch, evidence, maintainers, prefixes
from mutators.propose.fixes import FixesError, find_culprit, hunk_ranges, resolve


def _git(cwd: Path, *args: str, date: str = "2025-01-01T00:00:00") -> str:
    env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "PATH": "/usr/bin:/bin",
           "HOME": str(cwd)}
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                          check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture()
def history(tmp_path: Path) -> git.Repo:
    """A repo whose rockchip driver gained the late dma_dev assignment in a later commit."""
    r = tmp_path / "r"
    (r / "drivers/iommu").mkdir(parents=True)
    f = r / "drivers/iommu/rockchip-iommu.c"
    f.write_text("int rk_iommu_probe(void)\n{\n\terr = iommu_device_register(x);\n}\n")
    _git(r, "init", "-q")
    _git(r, "add", "-A")
    _git(r, "commit", "-qm", "Import of the tree")
    f.write_text("int rk_iommu_probe(void)\n{\n\terr = iommu_device_register(x);\n"
                 "\tif (!dma_dev)\n\t\tdma_dev = &pdev->dev;\n}\n")
    _git(r, "commit", "-qam", "iommu/rockchip: Use the first registered IOMMU for DMA",
         date="2025-01-02T00:00:00")
    (r / "drivers/iommu/other.c").write_text("x\n")
    _git(r, "add", "-A")
    _git(r, "commit", "-qm", "iommu/rockchip: Add other", date="2025-01-03T00:00:00")
    _git(r, "commit", "-q", "--allow-empty", "-m", "Merge branch x", date="2025-01-04T00:00:00")
    return git.Repo(r)


def test_subject_prefix() -> None:
    assert prefixes.subject_prefix("iommu/rockchip: Fix x") == "iommu/rockchip"
    assert prefixes.subject_prefix("ACPI: scan: Foo bar") == "ACPI: scan"
    assert prefixes.subject_prefix("driver core: platform: Add x") == "driver core: platform"
    assert prefixes.subject_prefix("Debian linux-source-6.12 6.12.117") is None
    assert prefixes.subject_prefix("Revert \"iommu: x\"") is None


def test_prefix_from_history_beats_the_path(history: git.Repo) -> None:
    f = "drivers/iommu/rockchip-iommu.c"
    assert prefixes.from_history(history, "HEAD", f) == "iommu/rockchip"
    # the import commit has no prefix: no history to go by, the path decides
    assert prefixes.from_history(history, "HEAD~3", f) is None
    assert prefixes.prefix_for(history, "HEAD~3", "drivers/of/device.c") == "of"


@pytest.mark.parametrize(("path", "want"), [
    ("drivers/iommu/iommu.c", "iommu"), ("drivers/iommu/rockchip-iommu.c", "iommu/rockchip"),
    ("drivers/iommu/of_iommu.c", "iommu"), ("drivers/of/device.c", "of"),
    ("drivers/acpi/scan.c", "ACPI: scan"), ("drivers/acpi/arm64/dma.c", "ACPI: arm64"),
    ("drivers/pci/pci-driver.c", "PCI"), ("drivers/base/platform.c", "driver core: platform"),
    ("drivers/bus/fsl-mc/fsl-mc-bus.c", "bus: fsl-mc"),
    ("drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c", "iommu/arm-smmu-v3"),
    ("drivers/iommu/arm/arm-smmu/arm-smmu.c", "iommu/arm-smmu"),
    ("drivers/iommu/arm/arm-smmu/qcom_iommu.c", "iommu/qcom"), ("drivers/iommu/intel/iommu.c", "iommu/vt-d")])
def test_prefix_from_path(path: str, want: str) -> None:
    assert prefixes.from_path(path) == want


def test_unit_prefix_is_the_most_changed_file() -> None:
    lines = {"drivers/iommu/iommu.c": 24, "drivers/of/device.c": 7, "drivers/amba/bus.c": 3}
    assert prefixes.unit_prefix(None, "HEAD", lines) == "iommu"


def test_culprit_from_history_skips_the_root_commit(history: git.Repo) -> None:
    # the fix moves the register call below the dma_dev lines: the diff shows
    # the register line moving, the dma_dev lines as context
    diff = ("--- a/x\n+++ b/x\n@@ -2,4 +2,4 @@ int rk_iommu_probe(void)\n {\n"
            "-\terr = iommu_device_register(x);\n \tif (!dma_dev)\n \t\tdma_dev = &pdev->dev;\n"
            "+\terr = iommu_device_register(x);\n")
    assert hunk_ranges(diff) == [(2, 4)]
    tag = find_culprit(history, "HEAD", "drivers/iommu/rockchip-iommu.c", diff)
    assert tag is not None
    assert tag.subject == "iommu/rockchip: Use the first registered IOMMU for DMA"
    assert tag.line() == f'Fixes: {tag.sha[:12]} ("{tag.subject}")'
    # before that commit, only the import (a root commit) wrote the lines: no culprit
    assert find_culprit(history, "HEAD~3", "drivers/iommu/rockchip-iommu.c",
                        "@@ -1,3 +1,3 @@\n") is None


def test_fixes_rev_must_exist_and_precede_the_base(history: git.Repo) -> None:
    t = resolve(history, "HEAD~2", history.head.commit.hexsha)
    assert t.subject.startswith("iommu/rockchip: Use") and t.source == "--fixes"
    with pytest.raises(FixesError, match="no such commit"):
        resolve(history, "nope", "HEAD")
    with pytest.raises(FixesError, match="not in the history"):
        resolve(history, "HEAD", history.commit("HEAD~2").hexsha)


GM = """Joerg Roedel <joro@8bytes.org> (maintainer:IOMMU SUBSYSTEM)
Will Deacon <will@kernel.org> (maintainer:IOMMU SUBSYSTEM)
Robin Murphy <robin.murphy@arm.com> (reviewer:IOMMU SUBSYSTEM)
Heiko Stuebner <heiko@sntech.de> (maintainer:ARM/Rockchip SoC support)
Lorenzo Pieralisi <lpieralisi@kernel.org> (maintainer:ACPI FOR ARM64 (ACPI/arm64))
iommu@lists.linux.dev (open list:IOMMU SUBSYSTEM)
linux-kernel@vger.kernel.org (open list)
"""


def test_get_maintainer_output_to_and_cc() -> None:
    r = maintainers.parse(GM)
    assert r.to == ["Joerg Roedel <joro@8bytes.org>", "Will Deacon <will@kernel.org>",
                    "Heiko Stuebner <heiko@sntech.de>", "Lorenzo Pieralisi <lpieralisi@kernel.org>"]
    assert r.cc == ["Robin Murphy <robin.murphy@arm.com>", "iommu@lists.linux.dev",
                    "linux-kernel@vger.kernel.org"]
    u = maintainers.Recipients(cc=["Joerg Roedel <joro@8bytes.org>"])
    u.merge(r)
    assert "Joerg Roedel <joro@8bytes.org>" in u.to and "Joerg Roedel <joro@8bytes.org>" not in u.cc


def test_headers_go_after_the_folded_subject() -> None:
    mail = ("From 1 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\nDate: x\n"
            "Subject: [PATCH 1/2] iommu: a very long\n subject\n\nbody\n\nTo: not a header\n")
    out = maintainers.add_headers(mail, maintainers.parse(GM))
    head, body = out.split("\n\n", 1)
    assert head.splitlines()[4:6] == [" subject", "To: Joerg Roedel <joro@8bytes.org>,"]
    assert "Cc: Robin Murphy <robin.murphy@arm.com>," in head
    assert body == "body\n\nTo: not a header\n"


def test_checkpatch_verdict_parsing() -> None:
    out = ("ERROR:MISSING_SIGN_OFF: Missing Signed-off-by: line(s)\n\n"
           "WARNING:COMMIT_LOG_LONG_LINE: Prefer a maximum 75 chars per line\n"
           "total: 1 errors, 1 warnings, 0 checks, 20 lines checked\n")
    v = checkpatch.parse("0001.patch", out)
    assert v.total.startswith("total: 1 errors") and v.missing_signoff
    assert [i.type for i in v.of("ERROR")] == ["MISSING_SIGN_OFF"]
    assert v.of("ERROR", signoff_ok=True) == []
    assert [i.type for i in v.of("WARNING")] == ["COMMIT_LOG_LONG_LINE"]


RANKING = {
    "base": "NEXT", "budget": 2000,
    "variants": [
        {"id": "NEXT+platform_dma_configure.use_default_domain:-dev->driver", "rank": 2,
         "description": "d2", "counts": {"oops": 3, "deadlock": 0, "group": 1, "isolation": 0,
                                         "warn": 0, "defer": 0},
         "titles": ["BUG: kernel NULL pointer dereference in rk_iommu_of_xlate"],
         "reproducers": ["abc123"]},
        {"id": "NEXT+rk_iommu_probe.dma_dev:=before_register", "rank": 1, "description": "d1",
         "counts": {"oops": 0, "deadlock": 0, "group": 0, "isolation": 0, "warn": 0, "defer": 2},
         "titles": [], "reproducers": ["r1", "r2"]},
    ]}


def test_ranking_entry_and_best(tmp_path: Path) -> None:
    p = tmp_path / "ranking.json"
    p.write_text(json.dumps(RANKING))
    rk = evidence.load_ranking(p, "NEXT+rk_iommu_probe.dma_dev:=before_register")
    assert (rk.rank, rk.total, rk.base, rk.budget) == (1, 2, "NEXT", 2000)
    assert rk.counts["defer"] == 2 and rk.reproducers == ["r1", "r2"]
    assert evidence.best_in_ranking(p) == "NEXT+rk_iommu_probe.dma_dev:=before_register"
    with pytest.raises(evidence.EvidenceError, match="is not in this ranking"):
        evidence.load_ranking(p, "NEXT")


@pytest.mark.parametrize(("text", "msg"), [
    ("{", "not a ranking file"), ("[]", "missing or malformed 'variants'"),
    ('{"variants": [{"id": "NEXT", "rank": "1", "counts": {}}]}', "'rank'"),
    ('{"variants": [{"id": "NEXT", "rank": 1, "counts": {"oops": "x"}}]}', "integers")])
def test_bad_ranking_is_one_clear_error(tmp_path: Path, text: str, msg: str) -> None:
    p = tmp_path / "ranking.json"
    p.write_text(text)
    with pytest.raises(evidence.EvidenceError, match=msg):
        evidence.load_ranking(p, "NEXT")
    with pytest.raises(evidence.EvidenceError, match="no such ranking file"):
        evidence.load_ranking(tmp_path / "none.json", "NEXT")


def test_trace_trimmed_at_the_probe_entry() -> None:
    trace = ["devm_kmalloc", "rk_iommu_of_xlate", "platform_probe", "really_probe",
             "__driver_probe_device", "do_one_initcall", "kernel_init"]
    assert evidence.trim_trace(trace) == (trace[:4], 3)
    assert evidence.trim_trace(["a", "b"]) == (["a", "b"], 0)


def test_reference_is_the_rankings_base_then_the_ids_preset() -> None:
    from mutators.propose.pipeline import reference_for

    assert reference_for("NEXT+rk_iommu_probe.dma_dev:=before_register").name == "NEXT"
    assert reference_for("V614+x", "NEXT").name == "NEXT"
    assert reference_for("V614+rk_iommu_probe.dma_dev:=before_register").name == "V614"
    assert reference_for("custom.json", "nonsense").name == "NEXT"


def test_cli_best_variant_from_ranking_and_boards(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """--variant best picks rank 1; the reference is the ranking's base; default board the seed."""
    from fuzz.cli import main
    from mutators.propose import pipeline

    seen: list[pipeline.ProposeRequest] = []

    def fake(req: pipeline.ProposeRequest) -> pipeline.ProposeResult:
        seen.append(req)
        raise pipeline.ProposeError("stop here")

    monkeypatch.setattr(pipeline, "propose", fake)
    # the verb imports propose() by name at its module top: patch that binding too
    # (another test in this worker may have imported the verb already)
    import fuzz.commands.propose as propose_verb
    monkeypatch.setattr(propose_verb, "propose", fake)
    p = tmp_path / "ranking.json"
    p.write_text(json.dumps(RANKING))
    assert main(["propose", "--variant", "best", "--evidence", str(p), "--tree", "/nonexistent",
                 "--reported-by", "A <a@b>", "--closes", "https://x/1", "--link", "https://x/2",
                 "--out", str(tmp_path / "o")]) == 2
    req = seen[0]
    assert req.variant_id == "NEXT+rk_iommu_probe.dma_dev:=before_register"
    assert req.reference.name == "NEXT" and req.ranking == str(p)
    assert [b for b, _ in req.boards] == ["rk3568-odroid-m1"]
    assert (req.trailers.reported_by, req.trailers.closes, req.trailers.link) == \
        ("A <a@b>", "https://x/1", "https://x/2")
    assert main(["propose", "--variant", "best", "--tree", "/x"]) == 2  # best needs --evidence
    assert main(["propose", "--variant", "NEXT", "--tree", "/x", "--board", "sdm845-db845c",
                 "--board", "nope.json"]) == 2  # an unreadable board file is exit 2


def test_python_dash_m_cli_reports_usage_errors_in_one_line() -> None:
    """`python -m fuzz.cli` (how the CLI is run in development) keeps the exit-2 contract."""
    import sys

    r = subprocess.run([sys.executable, "-m", "fuzz.cli", "propose", "--variant", "NEXT",
                        "--tree", "/nonexistent"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr == "probefuzz propose: error: /nonexistent: no such directory\n"
