"""harness/of/node.py: the unflattened tree a boot gets from the per-board pool
is reset, follows DT changes, and has one holder at a time."""

from __future__ import annotations

import dataclasses

from corpus.bundled import load_bundled
from harness.board import Board, Node
from harness.of.node import of_tree_get, of_tree_put
from harness.run import run_scenario
from harness.variant import NEXT


def _board() -> Board:
    return Board("t", nodes=[Node("/"), Node("/soc", compatible=("simple-bus",)),
                             Node("/soc/dev@1000", compatible=("vendor,dev",))])


def test_a_tree_given_back_is_reused_reset_for_the_next_boot() -> None:
    b = _board()
    t = of_tree_get(b)
    for np in t.by_path.values():
        np.populated = np.populated_bus = True
    of_tree_put(b, t)
    again = of_tree_get(b)
    assert again is t
    assert not any(np.populated or np.populated_bus for np in again.by_path.values())


def test_a_tree_in_use_is_not_handed_out_twice() -> None:
    b = _board()
    t = of_tree_get(b)
    other = of_tree_get(b)  # t not given back: a second boot builds its own
    assert other is not t


def test_a_changed_board_gets_a_new_tree() -> None:
    b = _board()
    t = of_tree_get(b)
    of_tree_put(b, t)
    # a DT mutation in place: a node replaced (another compatible) ...
    b.nodes[2] = dataclasses.replace(b.nodes[2], compatible=("vendor,other",))
    t2 = of_tree_get(b)
    assert t2 is not t and t2.find("/soc/dev@1000").compatible == ("vendor,other",)
    of_tree_put(b, t2)
    # ... or removed
    del b.nodes[2]
    t3 = of_tree_get(b)
    assert t3 is not t2 and "/soc/dev@1000" not in t3.by_path


def test_a_node_changed_in_place_gets_a_new_tree() -> None:
    b = _board()
    t = of_tree_get(b)
    of_tree_put(b, t)
    # the tree keeps facts of its nodes (which become client devices): a
    # node disabled in place is another tree
    b.nodes[2].status = "disabled"
    t2 = of_tree_get(b)
    assert t2 is not t


def test_another_board_object_never_gets_the_tree() -> None:
    b = _board()
    t = of_tree_get(b)
    of_tree_put(b, t)
    copy = dataclasses.replace(b, nodes=list(b.nodes))  # equal, but another object
    assert of_tree_get(copy) is not t


def test_back_to_back_boots_of_a_board_give_the_same_results() -> None:
    # the second boot runs on the pooled tree of the first
    p = load_bundled("rk3568-odroid-m1")
    a = run_scenario(p, NEXT)
    b = run_scenario(p, NEXT)
    fresh = run_scenario(dataclasses.replace(p), NEXT)  # a new Board object: a new tree
    for r in (b, fresh):
        assert [f.to_json() for f in r.findings] == [f.to_json() for f in a.findings]
        assert r.stats == a.stats and r.log == a.log
