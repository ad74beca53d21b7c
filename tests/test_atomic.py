"""dynamicner_data.atomic: outputs appear whole or not at all."""

from __future__ import annotations

import errno
import os

import pytest

from dynamicner_data.atomic import atomic_path, atomic_write_text


def test_a_failed_write_leaves_the_previous_file_and_no_partial(tmp_path):
    target = atomic_write_text(tmp_path / "results.json", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as partial:
            partial.write_text("new, half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_a_folder_replaces_the_old_folder_whole(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "stale.bin").write_text("x")
    with atomic_path(target) as partial:
        partial.mkdir()
        (partial / "config.json").write_text("{}")
    assert sorted(p.name for p in target.iterdir()) == ["config.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_enospc_at_rename_keeps_the_old_output(tmp_path, monkeypatch):
    target = atomic_write_text(tmp_path / "meta.json", "old")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError, match="No space"):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json"]


def test_nothing_written_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        with atomic_path(tmp_path / "out"):
            pass
    assert not (tmp_path / "out").exists()


def test_a_file_never_replaces_a_folder_nor_a_folder_a_file(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    with pytest.raises(IsADirectoryError, match="refusing to replace it with a file"):
        atomic_write_text(folder, "text")
    assert (folder / "keep.txt").read_text() == "x"
    target = atomic_write_text(tmp_path / "file.json", "{}")
    with pytest.raises(NotADirectoryError, match="refusing to replace it with a folder"):
        with atomic_path(target) as partial:
            partial.mkdir()
    assert target.read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.json", "out"]
