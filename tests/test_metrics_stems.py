"""Family name stems found batch by batch (isoaudit.metrics.stems.name_stems): one code per distinct
stem, in order of first appearance over the whole column, whatever batch a stem first appears in."""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa

from isoaudit.metrics.stems import SDK_SUFFIX, name_stems, text_array


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


def test_stems_follow_the_rule_job_by_job() -> None:
    """Each source of a stem (the name less its SDK suffix, the tuning job's name, the name itself) against
    the rule written out per job, the columns given as job_facts gives them (text_array), over missing,
    empty, short, non-ASCII and nearly suffixed names."""
    names = [
        "train-2026-01-02-03-04-05-006", "train-2026-01-02-03-04-05-006", "née-2026-01-02-03-04-05-006",
        "child-001", "child-002", None, "", "x", "-2026-01-02-03-04-05-006", "bad-2026-01-02-03-04-05-0a6",
        "etl-2026-01-02-03-04-05-0066", "hpo-child-2026-01-02-03-04-05-006", "plain name",
    ]  # fmt: skip
    tuning = ["", None, "", "hpo-1", "hpo-1", "hpo-2", "", "", "", "", "", "hpo-3", ""]
    expected = []
    for name, tuning_job in zip(names, tuning, strict=True):
        name, tuning_job = name or "", tuning_job or ""
        stem = re.sub(SDK_SUFFIX, "", name)
        expected.append(stem if stem != name or not tuning_job else tuning_job)

    found, stems = name_stems(text_array(pd.Series(names)), text_array(pd.Series(tuning)))

    assert [stems[code].as_py() for code in found] == expected
    assert stems.to_pylist() == list(dict.fromkeys(expected))
