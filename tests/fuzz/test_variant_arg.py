"""--variant accepts presets, variant-space ids and saved variant files."""

from __future__ import annotations

import pytest

from fuzz.cli import main
from fuzz.variant_arg import resolve_variant
from harness.variant import NEXT, VariantError
from mutators.space import space


def test_space_ids_resolve_to_the_listed_variant() -> None:
    assert resolve_variant("NEXT") is NEXT
    m = next(m for m in space("NEXT", 1) if m.mutations[-1].site == "rk_iommu_of_xlate.alloc_owner")
    v = resolve_variant(m.id)
    assert v.fingerprint() == m.variant.fingerprint() and v.value(
        "rk_iommu_of_xlate.alloc_owner") != NEXT.value("rk_iommu_of_xlate.alloc_owner")


@pytest.mark.parametrize("arg", ["NEXT+bogus.site:=x", "NEXT+rk_iommu_of_xlate.alloc_owner:=nobody",
                                 "V999"])
def test_bad_ids_are_variant_errors(arg: str) -> None:
    with pytest.raises(VariantError):
        resolve_variant(arg)


@pytest.mark.parametrize("argv,msg", [
    (["facts", "--tree", "/nonexistent"], "--tree /nonexistent: no such directory"),
    (["repro", "--tree", "/nonexistent", "--variant", "NEXT", "x.dts"],
     "--tree /nonexistent: no such directory"),
    (["fuzz", "--tree", "/nonexistent", "--engine", "native", "--runs", "1"],
     "--tree /nonexistent: no such directory"),
    (["regress", "--tree", "/", "--variant", "TREE"], "/: not a kernel tree"),
])
def test_bad_tree_is_one_line_and_exit_2(argv: list[str], msg: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and len(err.strip().splitlines()) == 1, err
