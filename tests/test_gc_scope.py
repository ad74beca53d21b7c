"""The garbage-collector tricks restore the host's exact prior state."""

from __future__ import annotations

import gc
import json
import threading

import pytest

from dynamicner_data import gc_scope
from dynamicner_data.builder import DynamicNER
from dynamicner_f1 import scorer


@pytest.fixture
def gc_state():
    """Restore the collector's on/off state whatever a test does. Freezing more is harmless here:
    tests/conftest.py froze everything alive after collection, so the host always has a permanent
    generation (and counting it walks its ~1.5 million objects, so it is not done per test)."""
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


PAUSES = [gc_scope.paused_gc, scorer.no_gc]


@pytest.mark.parametrize("pause", PAUSES, ids=["paused_gc", "no_gc"])
@pytest.mark.parametrize("enabled", [True, False])
def test_pause_restores_prior_state_nested(gc_state, pause, enabled):
    gc.enable() if enabled else gc.disable()
    with pause():
        assert not gc.isenabled()
        with pause():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause is still active
    assert gc.isenabled() is enabled


@pytest.mark.parametrize("pause", PAUSES, ids=["paused_gc", "no_gc"])
def test_pause_restores_after_an_exception(gc_state, pause):
    gc.enable()
    with pytest.raises(RuntimeError):
        with pause():
            raise RuntimeError("boom")
    assert gc.isenabled()


@pytest.mark.parametrize("pause", PAUSES, ids=["paused_gc", "no_gc"])
@pytest.mark.parametrize("enabled", [True, False])
def test_pause_overlapping_threads(gc_state, pause, enabled):
    """A enters, B enters, A leaves (B still inside: still off), B leaves: the state from before.

    With the old per-call save/restore, B records "off" (A's pause) and A re-enables the collector
    while B is still inside; B's exit then leaves it off for good.
    """
    gc.enable() if enabled else gc.disable()
    a_in, b_in, a_out, b_check = (threading.Event() for _ in range(4))
    seen = {}

    def a():
        with pause():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b():
        a_in.wait(5)
        with pause():
            b_in.set()
            a_out.wait(5)
            seen["inside_after_a_left"] = gc.isenabled()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"inside_after_a_left": False}
    assert gc.isenabled() is enabled


@pytest.mark.parametrize("pause", PAUSES, ids=["paused_gc", "no_gc"])
def test_pause_many_threads_nested(gc_state, pause):
    gc.enable()
    barrier = threading.Barrier(4)
    on_inside = []

    def work():
        for i in range(200):
            with pause():
                with pause():
                    if i == 0:
                        barrier.wait(5)
                    if gc.isenabled():
                        on_inside.append(i)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert on_inside == []
    assert gc.isenabled()


def _frozen(obj) -> bool:
    """Whether ``obj`` (a container) sits in the permanent generation: tracked, yet in no generation."""
    return gc.is_tracked(obj) and not any(o is obj for o in gc.get_objects())


def _geic(path, n=30):
    data = {f"s{i}": {"sentence": f"Ana lives in Lima {i} .", "entity": ["Lima"], "category": ["city"]} for i in range(n)}
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("enabled", [True, False])
def test_builder_keeps_the_hosts_freeze_and_gc_state(gc_state, tmp_path, enabled):
    """The builder with a host that froze objects before: they stay frozen, nothing of ours is frozen.

    The freeze count can only shrink here (frozen objects that reference counting frees leave the
    permanent generation), so the host's own object is checked too.
    """
    gc.enable() if enabled else gc.disable()
    host = [[] for _ in range(10)]
    gc.freeze()
    count = gc.get_freeze_count()
    assert _frozen(host)
    builder = DynamicNER(config_name="en", data_files={"train": _geic(tmp_path / "train.json")},
                         cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    ds = builder.as_dataset(split="train")
    assert len(ds) == 30
    assert _frozen(host)
    assert 0 < gc.get_freeze_count() <= count
    assert gc.isenabled() is enabled


def test_builder_restores_the_gc_on_an_empty_file(gc_state, tmp_path):
    gc.enable()
    count = gc.get_freeze_count()
    path = tmp_path / "train.json"
    path.write_text("{}", encoding="utf-8")
    builder = DynamicNER(config_name="en", data_files={"train": str(path)}, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(Exception) as err:
        builder.download_and_prepare()
    causes = [err.value, err.value.__cause__, err.value.__context__]
    assert any("holds no samples" in str(c) for c in causes if c is not None)
    assert gc.get_freeze_count() <= count
    assert gc.isenabled()
