"""The bundled boards the footprint tests record runs of."""

from __future__ import annotations

import pytest

from harness.board import Board, load_board
from tests.harness.footprint.scenarios import BOARDS


@pytest.fixture(scope="module")
def rk() -> Board:
    return load_board(BOARDS / "rk3568-odroid-m1.json")


@pytest.fixture(scope="module")
def db845c() -> Board:
    return load_board(BOARDS / "sdm845-db845c.json")
