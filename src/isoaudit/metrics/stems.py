"""Family name stems: each job's family as its name gives it (the name without the SDK's timestamp suffix,
else its tuning job's name, else the name), found with Arrow and numpy over millions of names, on two worker
threads of job_facts (none of it holds the GIL for long)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SDK_SUFFIX = r"-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}$"
_SDK_SUFFIX_LENGTH = 24


def name_stems(
    names: pa.Array | pa.ChunkedArray, tuning: pa.Array | pa.ChunkedArray
) -> tuple[np.ndarray, pa.Array]:
    """Each job's family as its name gives it: the name without the SDK timestamp, else the tuning job's
    name, else the name. Codes (in order of first appearance) and the distinct stems (large strings);
    `names` and `tuning` as text_array gives them."""
    # Batch by batch, each batch's stems dictionary-encoded at once, so that only one batch's stems and
    # intermediate arrays per thread are held at a time besides the codes; unifying the dictionaries keeps
    # the first batch's and appends the new stems of each next one: codes stay in order of first appearance.
    # The second half of the batches on a thread of its own: the stems are the longest part of job_facts.
    batches = pa.Table.from_arrays([names, tuning], names=["name", "tuning"]).to_batches()
    half = len(batches) // 2
    with ThreadPoolExecutor(max_workers=1) as helper:
        second = helper.submit(_encoded_stems, batches[half:])
        first = _encoded_stems(batches[:half])
        encoded = pa.chunked_array(
            first + second.result(), type=pa.dictionary(pa.int32(), pa.large_binary())
        ).unify_dictionaries()
    if not encoded.num_chunks:
        return np.zeros(0, dtype=np.int32), pa.array([], type=pa.large_string())
    found = np.concatenate([chunk.indices.to_numpy() for chunk in encoded.chunks])
    return found, encoded.chunk(encoded.num_chunks - 1).dictionary.cast(pa.large_string())


def _encoded_stems(batches: list[pa.RecordBatch]) -> list[pa.DictionaryArray]:
    return [_batch_stems(*batch.columns).dictionary_encode() for batch in batches]


def _batch_stems(names: pa.Array, tuning: pa.Array) -> pa.Array:
    """name_stems' stems of one batch of jobs, as large binaries."""
    # Bytes, not text: slicing UTF-8 text walks every character, slicing bytes is a copy; the kept names
    # are valid UTF-8 (whole names, or names less an ASCII suffix).
    names, tuning = names.cast(pa.large_binary()), tuning.cast(pa.large_binary())
    suffixed = pa.array(sdk_suffixed(names))
    from_name = pc.if_else(suffixed, pc.binary_slice(names, 0, -_SDK_SUFFIX_LENGTH), names)
    return pc.if_else(pc.or_(suffixed, pc.equal(tuning, b"")), from_name, tuning)


def _suffix_words() -> dict[str, np.ndarray]:
    """SDK_SUFFIX's 24 bytes as three little-endian 64-bit words. Per word: `mask` and `value` of the bits
    that are fixed ('-' whole, a digit's high nibble 3); at the digits, `low` (their low nibbles), `six`
    (6 in each) and `carry` (the bit above each low nibble)."""
    template = np.frombuffer(b"-0000-00-00-00-00-00-000", dtype=np.uint8)
    assert len(template) == _SDK_SUFFIX_LENGTH
    digit = template != ord("-")
    per_byte = {
        "mask": np.where(digit, 0xF0, 0xFF),
        "value": np.where(digit, 0x30, template),
        "low": digit * 0x0F,
        "six": digit * 0x06,
        "carry": digit * 0x10,
    }
    return {name: values.astype(np.uint8).view("<u8") for name, values in per_byte.items()}


_SUFFIX_WORDS = _suffix_words()


def sdk_suffixed(names: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Whether each name (binary or string; a missing name counts as empty) matches SDK_SUFFIX: the
    regular expression's test done on the last 24 bytes of each name read as three 64-bit words, because
    running the expression over millions of names costs more than all the rest of the family work.

    A byte is a digit when its high nibble is 3 and its low nibble at most 9, i.e. adding 6 to the low
    nibble does not reach 16 (no carry can cross bytes: 15 + 6 < 256). RE2 (Arrow's engine) reads `\\d`
    as ASCII digits and `$` as the end of the text, as this test does.
    """
    chunks = names.chunks if isinstance(names, pa.ChunkedArray) else [names]
    found = [_suffixed_chunk(chunk.cast(pa.large_binary())) for chunk in chunks]
    return np.concatenate(found) if found else np.zeros(0, dtype=bool)


def _suffixed_chunk(names: pa.LargeBinaryArray) -> np.ndarray:
    count = len(names)
    offsets = np.frombuffer(names.buffers()[1], dtype=np.int64)[names.offset : names.offset + count + 1]
    long = (np.diff(offsets) >= _SDK_SUFFIX_LENGTH) & names.is_valid().to_numpy(zero_copy_only=False)
    result = np.zeros(count, dtype=bool)
    if not long.any():
        return result
    data = np.frombuffer(names.buffers()[2], dtype=np.uint8)
    starts = offsets[1:][long] - _SDK_SUFFIX_LENGTH
    # Every byte offset of the data as the start of a little-endian 64-bit word (overlapping, no copy).
    words = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    ok = np.ones(len(starts), dtype=bool)
    for index, (mask, value, low, six, carry) in enumerate(
        zip(*(_SUFFIX_WORDS[name] for name in ("mask", "value", "low", "six", "carry")), strict=True)
    ):
        word = words[starts + 8 * index]
        ok &= ((word & mask) == value) & (((word & low) + six) & carry == 0)
    result[long] = ok
    return result


def text_array(values: pd.Series) -> pa.Array:
    """A text column as Arrow large strings, missing values empty (plain or categorical input)."""
    return pc.fill_null(pc.cast(pa.array(values), pa.large_string()), "")
