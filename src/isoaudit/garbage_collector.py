"""Python's cyclic garbage collector while isoaudit loads its libraries and while it collects accounts.

Both phases allocate hundreds of thousands of objects in reference cycles that outlive many collections:
- loading pandas, pyarrow, botocore, awswrangler, openpyxl and Prefect builds modules, classes and functions
  that live as long as the process; at Python's default thresholds (700, 10, 10) the collector ran hundreds
  of young collections and several full ones over them while they loaded (on the small organization of
  bench/versus_c7n.py, 0.6-0.8 s of CPU of the imports' 3.7-4.5 s), and each full collection of the run
  after that traversed them all again (0.1-0.4 s each);
- each account-region collected builds a botocore client, about 930 objects in reference cycles (115 KB),
  that lives for its read's round trips: at 700 allocations a collection these clients are carried into the
  oldest generation and full collections traverse them all. On a re-run over 51 accounts x 17 regions the
  collector took 3.8-5.4 s of 9.8-12.1 s of CPU at 700, 1.4-2.9 s at 20,000, 1.0 s at 100,000 (then at
  most about 100 clients' worth of garbage, 12 MB, waits for a collection).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# The first threshold while those phases run (Python's default: 700).
FIRST_THRESHOLD = 100_000
_lock = threading.Lock()
_users: list[tuple[int, int, int]] = []  # the thresholds to restore, one per block in progress


@contextmanager
def fewer_collections() -> Iterator[None]:
    """While the block runs, the collector runs less often (FIRST_THRESHOLD); its thresholds are restored
    when the last such block ends (blocks may overlap, on several threads)."""
    with _lock:
        if not _users:
            threshold = gc.get_threshold()
            gc.set_threshold(max(threshold[0], FIRST_THRESHOLD), *threshold[1:])
        else:
            threshold = _users[0]
        _users.append(threshold)
    try:
        yield
    finally:
        with _lock:
            restore = _users.pop()
            if not _users:
                gc.set_threshold(*restore)


@contextmanager
def loading_code() -> Iterator[None]:
    """fewer_collections() while the block imports, then everything alive is frozen (`gc.freeze`: the
    collector no longer looks at it). The cost: the few thousand objects of cycles that imports left as
    garbage before the freeze (under a megabyte) stay in memory until the process ends."""
    try:
        with fewer_collections():
            yield
    finally:
        gc.freeze()
