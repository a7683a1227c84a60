"""Commit messages of a fixed scenario, pinned (b4-style golden mbox), and their rules.

The scenario: NEXT+rk_iommu_probe.dma_dev=before_register proposed on a tree
whose guard sites read back as Debian's 6.12 does (1/4 and 3/4 of the series
already there), evidence from the bundled seed board.  No kernel tree needed.
Regenerate the golden file with PROBEFUZZ_REGEN_GOLDEN=1.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from corpus.bundled import load_bundled
from harness.variant import NEXT, SITES
from mutators.propose import evidence, message, prefixes, series
from mutators.propose.fixes import FixesTag
from mutators.propose.pipeline import _transform_rules, stage_variants
from mutators.rules import plan
from mutators.space import resolve

GOLDEN = Path(__file__).parent / "golden" / "propose.rk3568-odroid-m1.verify"
VID = "NEXT+rk_iommu_probe.dma_dev=before_register"
BASE = '"Debian linux-source-6.12 6.12.117" (the base-commit below)'
FIXES = FixesTag("7dc92568f84f361b9847fe08c64311e48f583eef",
                 "Debian linux-source-6.12 6.12.117", "--fixes")
REPORTER = "Marek Szyprowski <m.szyprowski@samsung.com>"
CLOSES = "https://lore.kernel.org/all/seed-report@samsung.com/"
LINK = "https://lore.kernel.org/r/series@arm.com/"


def tree_612() -> dict[str, Any]:
    """Site values as mutators.readback reads them from Debian 6.12.117."""
    vals = {n: s.v614 for n, s in SITES.items() if n != "iommu_init_device.dma_configure_lock"}
    for n, s in SITES.items():
        if s.patch in ("1/4", "3/4"):
            vals[n] = s.next
    return vals


def make_texts(signoff: str | None = None, fixes: FixesTag | None = FIXES,
               with_evidence: bool = True) -> list[message.PatchText]:
    target = resolve(VID).variant
    tv = tree_612()
    changed = [n for n in tv if tv[n] != target.value(n)]
    units = series.split(changed, tv, target, NEXT)
    ev = None
    if with_evidence:
        boards = [("rk3568-odroid-m1", load_bundled("rk3568-odroid-m1"))]
        ev = evidence.gather(boards, target, NEXT)
        for sv in stage_variants(units, tv, target):
            ev.stages.append([evidence.boot(b, p, sv, sv.name)[0] for b, p in boards])
    out = []
    for k, u in enumerate(units, 1):
        sites_per_file = Counter(SITES[s].file for s in u.sites)  # stands in for diff lines
        out.append(message.PatchText(
            unit=u, prefix=prefixes.unit_prefix(None, "HEAD", dict(sites_per_file)),
            tree_values=tv, target=target, reference=NEXT, evidence=ev,
            rules=_transform_rules("\n".join(fr.smpl for fr in plan(target, only=set(u.sites)).files)),
            tool_version="0.1.0", spatch_version="1.1.1", base=BASE, fixes=fixes,
            trailers=message.Trailers(REPORTER, CLOSES, LINK, signoff), index=k, total=len(units)))
    return out


def mbox(texts: list[message.PatchText]) -> str:
    n = len(texts)
    subjects = [message.subject(t) for t in texts]
    csubj, cbody = message.cover_letter(texts, subjects)
    parts = [f"From probefuzz Mon Sep 17 00:00:00 2001\nSubject: [PATCH 0/{n}] {csubj}\n\n{cbody}"]
    for k, t in enumerate(texts, 1):
        msg = message.commit_message(t)
        subj, body = msg.split("\n\n", 1)
        parts.append(f"From probefuzz Mon Sep 17 00:00:00 2001\nSubject: [PATCH {k}/{n}] "
                     f"{subj}\n\n{body}")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def texts() -> list[message.PatchText]:
    return make_texts()


def test_golden_messages(texts: list[message.PatchText]) -> None:
    text = mbox(texts)
    if os.environ.get("PROBEFUZZ_REGEN_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_series_shape(texts: list[message.PatchText]) -> None:
    assert [message.subject(t) for t in texts] == [
        "iommu/rockchip: Set the global dma_dev before registering",
        "iommu: Resolve the instance ops from the fwspec in iommu_init_device()",
        "iommu: Run the bus dma_configure (firmware parsing) from the IOMMU probe path",
    ]
    assert [t.unit.kind for t in texts] == ["fix", "port", "port"]


def _trailers(msg: str) -> list[str]:
    return msg.rstrip("\n").split("\n\n")[-1].splitlines()


def test_trailer_rules(texts: list[message.PatchText]) -> None:
    fix, *ports = [message.commit_message(t) for t in texts]
    tr = _trailers(fix)
    assert tr == [FIXES.line(), f"Reported-by: {REPORTER}", f"Closes: {CLOSES}", f"Link: {LINK}"]
    assert re.fullmatch(r'Fixes: [0-9a-f]{12} \("[^"]+"\)', tr[0])
    for m in ports:  # the ports fix nothing: no Fixes/Reported-by, the Link stays
        assert _trailers(m) == [f"Link: {LINK}"]
    for m in (fix, *ports):
        assert "Signed-off-by" not in m


def test_signoff_only_when_given() -> None:
    msgs = [message.commit_message(t) for t in make_texts(signoff="A B <a@b.org>",
                                                          with_evidence=False)]
    for m in msgs:
        assert _trailers(m)[-1] == "Signed-off-by: A B <a@b.org>"
        assert m.count("Signed-off-by:") == 1


def test_problem_is_title_and_trimmed_trace(texts: list[message.PatchText]) -> None:
    fix = message.commit_message(texts[0])
    assert "  BUG: kernel NULL pointer dereference in rk_iommu_of_xlate\n" in fix
    trace = fix.split("  Call trace:\n", 1)[1].split("\n\n", 1)[0].split()
    assert trace[:2] == ["devm_kmalloc", "rk_iommu_of_xlate"] and trace[-1] == "really_probe"
    assert "do_one_initcall" not in fix and not re.search(r"\[\s*\d+\.\d+\]", fix)
    assert "+0x" not in fix  # no offsets, no timestamps
    # the port patches do not repeat the problem
    assert "Call trace" not in message.commit_message(texts[1])


def test_evidence_and_tool_lines(texts: list[message.PatchText]) -> None:
    fix = message.commit_message(texts[0])
    assert re.search(r"rk3568-odroid-m1\s+NEXT\s+1 oops: BUG: kernel NULL pointer", fix)
    assert re.search(r"rk3568-odroid-m1\s+this series\s+no findings", fix)
    flat = " ".join(fix.split())
    assert "1/3: no findings; 2/3: no findings; 3/3: no findings" in flat
    assert "probefuzz 0.1.0" in fix and "Coccinelle 1.1.1" in fix
    # the rule that produced the change, indented, without the marker rules
    assert re.search(r"^    @s(\d+)_to depends on !s\1_done exists@$", fix, re.M)
    assert "    +dma_dev = &pdev->dev;" in fix and "@script:python" not in fix


def test_commit_log_lines_fit_checkpatch(texts: list[message.PatchText]) -> None:
    for t in texts:
        body = message.commit_message(t)
        # checkpatch GIT_COMMIT_ID: no commit ids in the body but the Fixes: tag's
        assert not re.search(r"\bcommit\s+[0-9a-f]{5,}", body, flags=re.I)
        # (checkpatch skips a stack dump: from a BUG:/WARNING: line to the next blank line)
        outside_dump = re.sub(r"^\s*(?:BUG|WARNING):.*?\n\n", "", body, flags=re.M | re.S)
        assert not re.search(r"(?:\s|^)[0-9a-f]{12,40}(?:[\s\"'\(\[]|$)",
                             outside_dump.replace(FIXES.line(), ""), flags=re.M)
        for ln in body.splitlines()[1:]:
            if not ln.startswith(("Fixes:", "Closes:", "Link:", "Reported-by:")):
                assert len(ln) <= 75, ln


def test_ranking_in_evidence(tmp_path: Path) -> None:
    import json

    from tests.mutators.test_propose_parts import RANKING

    p = tmp_path / "ranking.json"
    p.write_text(json.dumps(RANKING))
    t = make_texts(with_evidence=True)[0]
    assert t.evidence is not None
    t.evidence.ranking = evidence.load_ranking(p, VID)
    msg = " ".join(message.commit_message(t).split())
    assert "ranked this variant 1 of 2 against NEXT (budget 2000)" in msg
    assert "0 oops, 0 deadlock, 0 group, 0 isolation, 0 warn, 2 defer" in msg
    assert "Reproducers (probefuzz repro): r1, r2." in msg


def test_summaries_of_guard_changes() -> None:
    s = "platform_dma_configure.use_default_domain"
    v = resolve("NEXT+platform_dma_configure.use_default_domain-dev.driver").variant
    assert message.summary(s, NEXT.value(s), v.value(s)) == \
        "Stop testing dev->driver in platform_dma_configure()"
    assert message.summary("acpi_iommu_configure_id.replay", SITES[
        "acpi_iommu_configure_id.replay"].v614, None) == \
        "Don't replay iommu_probe_device() after IORT/VIOT configuration"
    assert message.summary("iommu_device_use_default_domain.defer", None, NEXT.value(
        "iommu_device_use_default_domain.defer")).startswith("Add -EPROBE_DEFER")


def test_smpl_wrapping_keeps_strings_and_signs() -> None:
    w = message.wrap_smpl('+\tdev_WARN(dev, "late IOMMU probe at driver bind, something '
                          'fishy here, really, truly!\\n");', width=40)
    assert w[0] == "+\tdev_WARN(dev," and all(x.startswith("+") for x in w)
    assert any("late IOMMU probe at driver bind, something fishy" in x for x in w)


def test_notes_for_a_variant_that_fixes_nothing_or_breaks_bisection() -> None:
    from mutators.propose.pipeline import evidence_notes

    boards = [("rk3568-odroid-m1", load_bundled("rk3568-odroid-m1"))]
    ev = evidence.gather(boards, NEXT, NEXT)  # NEXT "fixes" nothing and still oopses
    notes = evidence_notes(ev)
    assert any("avoids no finding of NEXT" in n for n in notes)
    assert any("still shows: BUG: kernel NULL pointer dereference in rk_iommu_of_xlate" in n
               for n in notes)
    ev.stages = [[evidence.boot(b, p, NEXT, "NEXT@1/2")[0] for b, p in boards], []]
    assert any("after patch 1/2" in n and "does not bisect" in n for n in evidence_notes(ev))
    assert evidence_notes(make_texts()[0].evidence) == []
