"""Python's cyclic garbage collector while a command loads its libraries.

`isoaudit run` imports pandas, pyarrow, botocore, awswrangler, openpyxl and Prefect: several hundred thousand
objects (modules, classes, functions) that live as long as the process and are never garbage. At Python's
default thresholds (700, 10, 10) the collector runs hundreds of young collections and several full ones over
them while they load, and each full collection of the run that follows traverses them all again: on the
small organization of bench/versus_c7n.py, 0.6-0.8 s of CPU of the imports' 3.7-4.5 s, and 0.1-0.4 s per
full collection later in the run. While the libraries load, the collector runs rarely; once they are
loaded, what is there is frozen (`gc.freeze`: the collector no longer looks at it). The cost: the few
thousand objects of cycles that imports left as garbage before the freeze (under a megabyte) stay in memory
until the process ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# The first threshold while loading: a young collection every 100,000 allocations instead of 700 (the same
# value as the collector's while it collects, isoaudit.collect.GC_THRESHOLD_WHILE_COLLECTING).
THRESHOLD_WHILE_LOADING = 100_000


@contextmanager
def loading_code() -> Iterator[None]:
    """Fewer collections while the block imports; everything alive at its end is then frozen, and the
    thresholds are restored. For the main thread of a command, before it starts threads of its own."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], THRESHOLD_WHILE_LOADING), *threshold[1:])
    try:
        yield
    finally:
        gc.freeze()
        gc.set_threshold(*threshold)
