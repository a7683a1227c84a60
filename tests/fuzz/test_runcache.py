"""fuzz/runcache.py: the minimiser's shared runs change no result; what earlier
reproducers kept helps the next title."""

from __future__ import annotations

from dataclasses import replace

from fuzz.gen import FuzzInput, with_cfg
from fuzz.minimise import minimise
from fuzz.runcache import RunCache, scenario_key
from harness.boot import BootConfig
from harness.run import run_scenario
from harness.variant import NEXT
from tests.fuzz.helpers import board

# mt2701-evb's plain boot under NEXT shows two titles at once (the group
# oracles about the same clients): each is minimised from the same scenario.
MT = "mt2701-evb"


def plain(name: str) -> FuzzInput:
    b = board(name)
    return FuzzInput(board=b.name, platform=b.platform, cfg=BootConfig())


def test_two_titles_of_one_run_share_runs_and_minimise_as_without_the_cache() -> None:
    s = plain(MT)
    titles = sorted({f.title for f in run_scenario(s.platform, NEXT, s.cfg).findings})
    assert len(titles) >= 2
    cache = RunCache(NEXT)
    shared = []
    for t in titles:
        cache.kept.clear()  # what earlier reproducers kept: see the next test
        shared.append(minimise(s, NEXT, t, cache=cache))
    alone = [minimise(s, NEXT, t) for t in titles]
    for a, b in zip(shared, alone, strict=True):
        assert a.runs == b.runs
        assert a.scenario.describe() == b.scenario.describe()
        assert [n.path for n in a.scenario.platform.nodes] == [n.path for n in b.scenario.platform.nodes]
        assert a.finding.to_json() == b.finding.to_json()
        assert a.devices_after == b.devices_after
    # the second title's loop met candidates the first one had booted
    assert cache.hits > 0
    assert cache.misses < sum(m.runs for m in shared)


def test_what_a_reproducer_kept_helps_the_next_title_of_the_board() -> None:
    """The one thing a title's minimisation takes from the cache besides
    runs: the nodes earlier reproducers on the board kept, which the bulk
    device drop keeps when its own keep set loses the title
    (fuzz.minimise._bulk_devices).  mt2701-evb's second title then needs
    far fewer runs, to a reproducer as small."""
    s = plain(MT)
    titles = sorted({f.title for f in run_scenario(s.platform, NEXT, s.cfg).findings})
    cache = RunCache(NEXT)
    first = minimise(s, NEXT, titles[0], cache=cache)
    assert cache.kept[s.platform.name] == {n.path for n in first.scenario.platform.nodes} - {"/"}
    second = minimise(s, NEXT, titles[1], cache=cache)
    alone = minimise(s, NEXT, titles[1])
    assert second.devices_after <= alone.devices_after
    assert second.runs < alone.runs // 2
    out = second.scenario
    assert titles[1] in [f.title for f in run_scenario(out.platform, NEXT, out.cfg).findings]


def test_key_follows_the_candidates_parts() -> None:
    s = plain(MT)
    again = replace(s, platform=replace(s.platform, nodes=list(s.platform.nodes)))
    assert scenario_key(again) == scenario_key(s)  # same node objects: the same candidate
    fewer = replace(s, platform=replace(s.platform, nodes=s.platform.nodes[:-1]))
    assert scenario_key(fewer) != scenario_key(s)
    assert scenario_key(with_cfg(s, async_probe_all=True)) != scenario_key(s)


def test_cached_findings_are_the_runs() -> None:
    s = plain(MT)
    cache = RunCache(NEXT)
    first = cache.findings(s)
    assert first is not None
    assert [f.title for f in first] == [f.title for f in run_scenario(s.platform, NEXT, s.cfg).findings]
    assert cache.findings(s) is first and cache.hits == 1 and cache.misses == 1


def test_peers_share_runs_and_minimise_as_alone() -> None:
    """A variant's minimisation along candidates a peer (another variant's
    cache over the same scenario objects) booted: the same reproducer and
    finding as alone, with some runs taken from the peer's."""
    from fuzz.baseruns import alternatives
    from mutators.space import space

    s = plain(MT)
    title = sorted({f.title for f in run_scenario(s.platform, NEXT, s.cfg).findings})[0]
    others = [m.variant for m in space("NEXT", 1)]
    alts = alternatives([NEXT, *others])
    peers: list[RunCache] = []
    base = RunCache(NEXT, peers=peers, alternatives=alts)
    peers.append(base)
    minimise(s, NEXT, title, cache=base)
    shared_any = False
    for v in others[:12]:
        if title not in {f.title for f in run_scenario(s.platform, v, s.cfg).findings}:
            continue
        c = RunCache(v, peers=peers, alternatives=alts)
        peers.append(c)
        a = minimise(s, v, title, cache=c)
        b = minimise(s, v, title)
        assert a.runs == b.runs and a.scenario.describe() == b.scenario.describe()
        assert [n.path for n in a.scenario.platform.nodes] == [n.path for n in b.scenario.platform.nodes]
        assert a.finding.to_json() == b.finding.to_json()
        shared_any = shared_any or c.shared > 0
    assert shared_any
