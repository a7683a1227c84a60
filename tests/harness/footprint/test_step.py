"""harness/footprint/step.py: a step's footprint and when two steps commute."""

from __future__ import annotations

from harness.footprint.step import Footprint, independent


def fp(pid: int, reads: set[object] = frozenset(), writes: set[object] = frozenset()) -> Footprint:  # type: ignore[assignment]
    return Footprint(pid, frozenset(reads), frozenset(writes))


def test_the_independence_relation() -> None:
    driver_a = (("device", "a"), "driver")
    driver_b = (("device", "b"), "driver")
    assert independent(fp(1, {driver_a}), fp(2, {driver_a}))  # two reads commute
    assert not independent(fp(1, {driver_a}), fp(2, writes={driver_a}))  # read / write
    assert not independent(fp(1, writes={driver_a}), fp(2, writes={driver_a}))  # write / write
    assert independent(fp(1, writes={driver_a}), fp(2, {driver_b}, {driver_b}))  # other objects
    assert not independent(fp(1), fp(1))  # one thread's steps never commute
    assert not independent(Footprint(1, frozenset(), frozenset(), opaque=True), fp(2))


def test_first_touch_names_are_compared_by_class_after_the_runs_part() -> None:
    """An object named by the order it was first touched in (no kernel name)
    may have another such name in a run that parted before that touch: the
    carried footprint then conflicts with any object of its class."""
    grp = ("#", "iommu_group", 7)
    step = Footprint(2, frozenset(), frozenset({(("#", "iommu_group", 9), "default_domain")}),
                     cls_writes=frozenset({("iommu_group", "default_domain")}))
    sleeper = Footprint(1, frozenset({(grp, "default_domain")}), frozenset())
    assert independent(sleeper, step)
    assert not independent(sleeper.coarsen({grp: 40}, since=30), step)  # touched after the part
    assert independent(sleeper.coarsen({grp: 20}, since=30), step)  # same name in both runs
