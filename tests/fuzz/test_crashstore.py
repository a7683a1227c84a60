"""fuzz.crashstore: reproducers saved atomically, content-addressed, de-duplicated by title."""

from __future__ import annotations

import json
import multiprocessing
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from corpus.bundled import bundled_path, load_bundled
from fuzz.crashstore import (
    CrashStore,
    StoreError,
    load_reproducer,
    platform_digest,
    reproducer_from_json,
    title_key,
)
from harness.board import Board

ODROID = "rk3568-odroid-m1"
TITLE = "BUG: unable to handle kernel NULL pointer dereference in rk_iommu_of_xlate"
VARIANT = {"name": "NEXT", "description": "test", "sites": {}}


def finding(title: str = TITLE, alt: list[str] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": "oops", "title": title, "function": "rk_iommu_of_xlate",
                         "device": "fdea0400.video-codec", "trace": ["devm_kmalloc"]}
    if alt:
        d["alt_titles"] = alt
    return d


@pytest.fixture(scope="module")
def odroid() -> Board:
    return load_bundled(ODROID)


def save(store: CrashStore, plat: Board, schedule: list[int], **kw: Any) -> Any:
    f = kw.pop("finding", finding())
    return store.save(f, platform=plat, variant=VARIANT, schedule=schedule, **kw)


def test_save_then_load(tmp_path: Path, odroid: Board) -> None:
    store = CrashStore(tmp_path / "crashes")
    r = save(store, odroid, [3, 1, 0], config={"fail_alloc": []})
    assert r.status == "new"
    assert re.fullmatch(rf"{title_key(TITLE)}-[0-9a-f]{{16}}\.json", r.path.name)
    rep = load_reproducer(r.path)
    assert rep.title == TITLE and rep.schedule == [3, 1, 0]
    assert rep.variant == VARIANT and rep.config == {"fail_alloc": []}
    assert rep.tool_version
    assert rep.platform() == odroid
    assert [p.name for p in store.paths()] == [r.path.name]
    assert not list((tmp_path / "crashes").glob(".*.tmp"))  # no temp file left behind


def test_same_content_is_the_same_file(tmp_path: Path, odroid: Board) -> None:
    store = CrashStore(tmp_path)
    a = save(store, odroid, [1, 2])
    b = save(store, odroid, [1, 2])
    assert b.status == "duplicate" and b.path == a.path


def test_dedup_by_title_keeps_the_shorter_schedule(tmp_path: Path, odroid: Board) -> None:
    store = CrashStore(tmp_path)
    first = save(store, odroid, [1, 2, 3])
    longer = save(store, odroid, [1, 2, 3, 4])
    assert longer.status == "duplicate" and longer.path == first.path
    shorter = save(store, odroid, [2])
    assert shorter.status == "replaced" and shorter.replaced == [first.path]
    assert store.paths() == [shorter.path]
    other = save(store, odroid, [1], finding=finding("WARNING in iommu_init_device"))
    assert other.status == "new" and len(store.paths()) == 2


def test_dedup_through_alt_titles(tmp_path: Path, odroid: Board) -> None:
    store = CrashStore(tmp_path)
    save(store, odroid, [1], finding=finding(alt=["KASAN: use-after-free in foo"]))
    r = save(store, odroid, [1, 2], finding=finding("KASAN: use-after-free in foo"))
    assert r.status == "duplicate"
    assert store.find_title("KASAN: use-after-free in foo") == store.paths()


def test_platform_by_reference(tmp_path: Path, odroid: Board) -> None:
    board = tmp_path / "boards" / f"{ODROID}.json"
    board.parent.mkdir()
    shutil.copy(bundled_path(ODROID), board)
    store = CrashStore(tmp_path / "crashes")
    r = save(store, odroid, [0], platform_ref=board)
    data = json.loads(r.path.read_text())
    assert data["platform"] == {"ref": {"path": str(board), "name": ODROID,
                                        "sha256": platform_digest(odroid)}}
    assert load_reproducer(r.path).platform() == odroid
    # The referenced board changes: replaying would test something else.
    changed = json.loads(board.read_text())
    changed["nodes"] = changed["nodes"][:-1]
    board.write_text(json.dumps(changed))
    with pytest.raises(StoreError, match=r"changed since the reproducer was saved"):
        load_reproducer(r.path).platform()
    board.unlink()
    with pytest.raises(StoreError, match=r"platform\.ref: .* not found"):
        load_reproducer(r.path).platform()


def _save_in_child(args: tuple[str, int]) -> str:
    root, n = args
    plat = load_bundled(ODROID)
    return CrashStore(root).save(finding(), platform=plat, variant=VARIANT,
                                 schedule=list(range(n))).status


def test_concurrent_saves_keep_one_per_title(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        statuses = pool.map(_save_in_child, [(str(tmp_path), n) for n in (5, 3, 7, 4, 6, 2, 8)])
    assert "new" in statuses
    paths = CrashStore(tmp_path).paths()
    assert len(paths) == 1
    assert load_reproducer(paths[0]).schedule == [0, 1]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(format="x"), "format: expected 'probefuzz-reproducer'"),
        (lambda d: d.update(version=9), "version: unsupported version 9"),
        (lambda d: d.update(title=""), "title: expected a non-empty string"),
        (lambda d: d["finding"].update(title="other"), "finding: expected an object with the same"),
        (lambda d: d.update(platform={}), "platform: expected"),
        (lambda d: d.update(schedule=[1, "x"]), "schedule: expected a list of integers"),
        (lambda d: d.update(variant=[]), "variant: expected an object"),
        (lambda d: d["platform"]["embedded"].update(nodes=[{"path": "x"}]),
         "not an absolute node path"),
    ],
)
def test_malformed_reproducers(tmp_path: Path, odroid: Board, mutate: Any, message: str) -> None:
    r = save(CrashStore(tmp_path), odroid, [1])
    data = json.loads(r.path.read_text())
    mutate(data)
    with pytest.raises(StoreError, match=re.escape(message)):
        reproducer_from_json(data, "f.json").platform()


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"nope\.json: no such file"):
        load_reproducer(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(StoreError, match=r"bad\.json: not JSON"):
        load_reproducer(tmp_path / "bad.json")


def test_replay_reproduces_the_finding(tmp_path: Path, odroid: Board) -> None:
    """A stored NEXT oops on the ODROID-M1 replays to the same title."""
    from harness.boot import BootConfig
    from harness.run import run_scenario
    from harness.variant import NEXT, variant_from_json

    result = run_scenario(odroid, NEXT, BootConfig())
    assert result.findings
    f = result.findings[0]
    r = CrashStore(tmp_path).save(f, platform=odroid, variant=NEXT, schedule=[])
    rep = load_reproducer(r.path)
    again = run_scenario(rep.platform(), variant_from_json(rep.variant, str(r.path)),
                         BootConfig(schedule=rep.schedule))
    assert f.title in [g.title for g in again.findings]
