"""The garbage collector while a command loads its libraries (isoaudit.code_loading)."""

from __future__ import annotations

import gc

import pytest

from isoaudit.code_loading import THRESHOLD_WHILE_LOADING, loading_code


class Loaded:
    """Stands for what an import builds: an object the collector tracks."""


def test_collections_are_rare_while_loading_and_what_was_loaded_is_frozen_after() -> None:
    before = gc.get_threshold()
    try:
        with loading_code():
            during = gc.get_threshold()
            loaded = Loaded()
        assert during == (max(before[0], THRESHOLD_WHILE_LOADING), *before[1:])
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
