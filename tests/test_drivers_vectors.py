"""The frozen synthetic vectors are what airkit_host.frames still builds.

If an encoder changes, this fails: either the change is a bug, or the
vectors are regenerated on purpose (`python -m tests.vectors.generate`) and
the driver tests re-checked against them.
"""

from __future__ import annotations

import pytest

from tests.vectors import HERE, hex_lines
from tests.vectors.generate import render

RENDERED = render()


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_synthetic_vector_file_matches_the_encoders(name):
    assert (HERE / name).read_text() == RENDERED[name]


def test_published_pms5003_frames_are_intact():
    # Checksums of the published frames, as printed in their sources.
    assert [f[-2:].hex() for f in hex_lines("pms5003_published.hex")] == ["03c5", "0334", "0266"]


def test_every_vector_file_is_described_in_the_readme():
    readme = (HERE / "README.md").read_text()
    files = [p.name for p in HERE.iterdir() if p.suffix in (".hex", ".nmea")]
    assert files and all(f"`{name}`" in readme for name in files)
