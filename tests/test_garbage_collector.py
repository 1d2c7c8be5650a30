"""The garbage collector while isoaudit loads its libraries and collects (isoaudit.garbage_collector)."""

from __future__ import annotations

import gc
import threading

import pytest

from isoaudit.garbage_collector import FIRST_THRESHOLD, fewer_collections, loading_code


class Loaded:
    """Stands for what an import builds: an object the collector tracks."""


def test_collections_are_rare_while_loading_and_what_was_loaded_is_frozen_after() -> None:
    before = gc.get_threshold()
    try:
        with loading_code():
            during = gc.get_threshold()
            loaded = Loaded()
        assert during == (max(before[0], FIRST_THRESHOLD), *before[1:])
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() > 0
        assert not any(found is loaded for found in gc.get_objects())  # frozen: out of the collector's sight
    finally:
        gc.unfreeze()  # the rest of the test session is collected as usual


def test_the_thresholds_come_back_when_loading_fails() -> None:
    before = gc.get_threshold()
    try:
        with pytest.raises(ImportError), loading_code():
            raise ImportError("a library that is not there")
        assert gc.get_threshold() == before
    finally:
        gc.unfreeze()


def test_garbage_is_collected_less_often_while_collecting_and_as_before_once_every_collection_ends() -> None:
    before = gc.get_threshold()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, tuple[int, int, int]] = {}

    def first() -> None:
        with fewer_collections():
            seen["first"] = gc.get_threshold()
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with fewer_collections():
            second_in.set()
            first_out.wait(10)
            seen["second, after the first ended"] = gc.get_threshold()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    raised = (max(before[0], FIRST_THRESHOLD), *before[1:])
    assert seen == {"first": raised, "second, after the first ended": raised}
    assert gc.get_threshold() == before
