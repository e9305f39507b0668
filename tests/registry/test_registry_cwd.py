"""A registry starts whatever the caller's working directory: its programs run as the
registry's unprivileged user, who cannot read a root-only folder (a notebook kernel's under
/tmp/pytest-of-root or /root). IRRd's loader stats its working directory, so a start from such a
folder failed with PermissionError until every program ran in the registry's own folder. ~7 s."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from manrs_lab import irr_registry

MISSING = irr_registry.missing_programs()
pytestmark = [pytest.mark.skipif(MISSING is not None, reason=MISSING or ""), pytest.mark.daemons]


def test_registry_starts_from_a_folder_only_root_can_read(tmp_path: Path, monkeypatch):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.chdir(private)
    name = f"t-cwd-{uuid.uuid4().hex[:6]}"
    try:
        irr_registry.start(name)
        assert Path.cwd() == private
        assert "aut-num:        AS64500" in irr_registry.query(name, "-r AS64500")
    finally:
        irr_registry.stop(name)
    assert not irr_registry.registry_dir(name).exists()
