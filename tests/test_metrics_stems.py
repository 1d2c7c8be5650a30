"""Family name stems found batch by batch (isoaudit.metrics.stems.name_stems): one code per distinct
stem, in order of first appearance over the whole column, whatever batch a stem first appears in."""

from __future__ import annotations

import pyarrow as pa

from isoaudit.metrics.stems import name_stems


def test_stems_of_several_batches_are_coded_in_order_of_first_appearance() -> None:
    names = pa.chunked_array(
        [["train-2026-01-02-03-04-05-006", "etl"], ["trial-7", "train-2026-02-02-03-04-05-006", "etl"]],
        type=pa.large_string(),
    )
    tuning = pa.chunked_array([["", ""], ["hpo-260105-0600", "", ""]], type=pa.large_string())

    found, stems = name_stems(names, tuning)

    # The second batch's own first stem (the tuning job's) comes after the stems the first batch saw.
    assert stems.to_pylist() == ["train", "etl", "hpo-260105-0600"]
    assert found.tolist() == [0, 1, 2, 0, 1]
    assert stems.type == pa.large_string()


def test_no_jobs_no_stems() -> None:
    empty = pa.chunked_array([], type=pa.large_string())

    found, stems = name_stems(empty, empty)

    assert found.tolist() == [] and stems.to_pylist() == []
