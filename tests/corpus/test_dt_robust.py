"""Bad DTBs never crash: random mutations end in a Board or a DtError.

libfdt reads raw memory, so an unchecked blob can take the interpreter down;
these tests run in-process on purpose (a crash fails the whole session).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.dt import DtError, dtb_to_platform
from harness.board import Board

FIXTURES = Path(__file__).parent / "fixtures"
BLOBS = {p.stem: p.read_bytes() for p in sorted(FIXTURES.glob("*.dtb"))}


def convert(blob: bytes) -> Board | None:
    """The property under test: a Board that validates, or a DtError."""
    try:
        p = dtb_to_platform(blob, "m", {}, label="m.dtb")
    except DtError as e:
        msg = str(e)
        assert msg.startswith("m.dtb: ") and "\n" not in msg
        return None
    assert Board.from_json(p.to_json()) == p
    return p


# One mutation: (kind, position fraction, value).
_mutation = st.tuples(
    st.sampled_from(["set_byte", "set_word", "nudge_word", "truncate", "delete", "insert"]),
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.integers(min_value=0, max_value=(1 << 32) - 1),
)


def mutate(blob: bytes, muts: list[tuple[str, float, int]], header_bias: bool) -> bytes:
    b = bytearray(blob)
    for kind, frac, val in muts:
        if len(b) < 8:
            break
        # Half of the word mutations hit the 40-byte header, where a wrong
        # value is most dangerous for libfdt.
        limit = 40 if header_bias and kind in ("set_word", "nudge_word") else len(b) - 4
        i = int(frac * limit) & ~3 if kind != "set_byte" else int(frac * (len(b) - 1))
        if kind == "set_byte":
            b[i] = val & 0xFF
        elif kind == "set_word":
            b[i : i + 4] = val.to_bytes(4, "big")
        elif kind == "nudge_word":
            w = (int.from_bytes(b[i : i + 4], "big") + (val % 17) - 8) & 0xFFFFFFFF
            b[i : i + 4] = w.to_bytes(4, "big")
        elif kind == "truncate":
            del b[i:]
        elif kind == "delete":
            del b[i : i + 1 + val % 16]
        else:
            b[i:i] = val.to_bytes(4, "big")[: 1 + val % 4]
    return bytes(b)


@pytest.mark.parametrize("name", sorted(BLOBS))
def test_fixture_blobs_convert(name: str) -> None:
    assert convert(BLOBS[name]) is not None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(BLOBS)),
    muts=st.lists(_mutation, min_size=1, max_size=6),
    header_bias=st.booleans(),
)
def test_random_mutations_end_in_platform_or_dt_error(
    name: str, muts: list[tuple[str, float, int]], header_bias: bool
) -> None:
    convert(mutate(BLOBS[name], muts, header_bias))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=256))
def test_arbitrary_bytes(blob: bytes) -> None:
    convert(blob)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=64))
def test_valid_magic_then_garbage(tail: bytes) -> None:
    convert(b"\xd0\x0d\xfe\xed" + tail)


@pytest.mark.parametrize("cut", [0, 3, 39, 40, 41, 100, 500])
def test_every_truncation_is_a_dt_error(cut: int) -> None:
    blob = BLOBS["multi-iommu"]
    with pytest.raises(DtError):
        dtb_to_platform(blob[:cut], "m", {})


def test_atheris_loader_target_bounded(tmp_path: Path) -> None:
    """The libFuzzer target over both loaders, a few thousand iterations."""
    import shutil
    import subprocess
    import sys

    from corpus import loader_fuzz

    for seed in loader_fuzz.SEEDS:
        shutil.copy(seed, tmp_path / seed.name)
    r = subprocess.run(
        [sys.executable, "-m", "corpus.loader_fuzz", "-runs=5000", "-seed=1", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Done 5000 runs" in r.stderr


def test_node_names_must_be_printable() -> None:
    blob = bytearray(BLOBS["multi-iommu"])
    i = blob.index(b"gpu@4000")
    blob[i + 3] = ord("\n")  # was "@"
    with pytest.raises(DtError, match=r"invalid node name 'gpu\\n4000'"):
        dtb_to_platform(bytes(blob), "m", {})
