"""Variant ids: one spelling, safe unquoted in bash, also the branch and crash-folder name."""

from __future__ import annotations

import subprocess

import pytest

from fuzz.campaign import variant_dirname
from mutators.gitrepo import BRANCH_PREFIX, branch_name
from mutators.ids import format_op, id_slug, parse_op
from mutators.space import resolve, space

SHELL_SPECIAL = set("!><~&|;() \t'\"`$*?[]{}#\\")


def test_every_depth2_id_is_safe_in_bash_and_roundtrips() -> None:
    items = space("NEXT", 2)
    for m in items:
        assert not SHELL_SPECIAL & set(m.id), m.id
        assert resolve(m.id).id == m.id
    # bash reads one of them back unchanged, unquoted
    vid = next(m.id for m in items if "not." in m.id and "%" in m.id)
    out = subprocess.run(["bash", "-c", f"printf %s {vid}"], capture_output=True, text=True, check=True)
    assert out.stdout == vid


@pytest.mark.parametrize("old,new", [
    ("NEXT+iommu_init_device.dma_configure:-!dev->driver",
     "NEXT+iommu_init_device.dma_configure-not.dev.driver"),
    ("NEXT+iommu_init_device.dma_configure:~dev->bus->dma_configure",
     "NEXT+iommu_init_device.dma_configure%dev.bus.dma_configure"),
    ("NEXT+rk_iommu_probe.dma_dev:=before_register", "NEXT+rk_iommu_probe.dma_dev=before_register"),
    ("NEXT+platform_dma_configure.use_default_domain:+!dev->iommu_group+rk_iommu_probe.dma_dev:=before_register",
     "NEXT+platform_dma_configure.use_default_domain+not.dev.iommu_group+rk_iommu_probe.dma_dev=before_register"),
])
def test_the_first_spelling_is_still_read(old: str, new: str) -> None:
    assert resolve(old).id == new
    assert resolve(old).variant.fingerprint() == resolve(new).variant.fingerprint()


def test_ops_roundtrip() -> None:
    for op in ("-!dev->driver", "+!!err", "~dev->iommu->fwspec", "=absent", "=dev_WARN_ONCE"):
        assert parse_op(format_op(op)) == op


def test_branch_and_crash_folder_are_the_id() -> None:
    vid = "NEXT+iommu_init_device.dma_configure-not.dev.driver"
    assert branch_name(vid) == BRANCH_PREFIX + vid
    assert variant_dirname(vid, "0123") == vid
    subprocess.run(["git", "check-ref-format", "refs/heads/" + branch_name(vid)], check=True)


def test_free_text_names_are_sanitised() -> None:
    slug = id_slug("my variant (v2)!")
    assert not SHELL_SPECIAL & set(slug) and slug != id_slug("my variant (v3)!")
    assert variant_dirname("my variant", "abcd").endswith("-abcd")
