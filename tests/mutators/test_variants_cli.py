"""`probefuzz variants` lists presets with each site's value, and the space."""

from __future__ import annotations

import json

import pytest

from fuzz.cli import main
from harness.variant import SITES


def test_presets_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["variants", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ids = [v["id"] for v in out["variants"]]
    assert ids == ["V614", "NEXT"]
    for v in out["variants"]:
        assert set(v["sites"]) == set(SITES)


def test_presets_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["variants"]) == 0
    text = capsys.readouterr().out
    assert "NEXT" in text and "platform_dma_configure.use_default_domain" in text


def test_space_depth2_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["variants", "--depth", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["count"] == len(out["variants"]) > 1000
    v = out["variants"][0]
    assert v["id"].startswith("NEXT+") and v["description"] and v["fingerprint"]


def test_unknown_base_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["variants", "--base", "NOPE", "--depth", "1"]) == 2
    assert "unknown variant" in capsys.readouterr().err
