"""Golden transcripts: every ``tests/golden/<chapter>/*.txt`` file is played
against a freshly booted module (see ``esp_at_sim.transcript`` for the format)."""

from __future__ import annotations

from pathlib import Path

import pytest

from esp_at_sim.transcript import run_transcript

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.rglob("*.txt"))


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(GOLDEN).as_posix() for p in FILES])
async def test_golden(path: Path) -> None:
    await run_transcript(path)
