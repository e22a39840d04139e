"""Packing a block of history into one compact blob, and back.

A block is one series' (a GPU's, or the host's) entries for one span of time in
one tier: ``n`` entries, each a time offset and, per metric, either one value
(the raw tier) or four (``count``, ``min``, ``max``, ``sum``: a rollup bucket,
from which the mean follows and coarser buckets combine exactly). Values are
integers (each metric has a fixed scale, see ``metrics.py``) or ``None``.

Each column (the time offsets first) is stored as the differences between
consecutive values, all in one array of the narrowest of int8/16/32/64 that
holds them, so a steady reading packs to zeros, which zlib all but removes. A
column with no value costs one byte; one with some ``None``s carries a bitmap. Decoding uses
``array`` and ``itertools.accumulate``, so its cost per value is C's, not
Python's.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from collections.abc import Container, Sequence
from itertools import accumulate
from operator import sub

FORMAT = 1
_HEADER = struct.Struct("<BHHc")  # format, entries, columns, array typecode of the data
_ALL_NULL, _VALUES, _WITH_NULLS = 0, 1, 2
_TYPECODES = (("b", 1 << 7), ("h", 1 << 15), ("i", 1 << 31), ("q", 1 << 63))
_CODES = {code.encode() for code, _ in _TYPECODES}

Column = Sequence[int | None]


class CorruptBlock(ValueError):
    """A blob that is not a block this version wrote."""


def _narrowest(values: Sequence[int]) -> str:
    low, high = min(values, default=0), max(values, default=0)
    for code, bound in _TYPECODES:
        if -bound <= low and high < bound:
            return code
    raise OverflowError(f"a difference of {max(-low, high)} does not fit in 64 bits")


def _deltas(values: Sequence[int]) -> list[int]:
    return [values[0], *map(sub, values[1:], values)] if values else []


def encode(times: Sequence[int], columns: Sequence[Column], level: int = 6) -> bytes:
    """``times``: ``n`` non-decreasing offsets; ``columns``: each ``n`` ints or ``None``s;
    ``level``: zlib's (1 for a block still open and rewritten every few seconds).

    Layout before zlib: header, one kind byte per column (times first), the null
    bitmaps, then every column's differences in one array of the narrowest type
    that holds them all."""
    n = len(times)
    kinds = bytearray([_VALUES])
    bitmaps: list[bytes] = []
    data = _deltas(times)
    for column in columns:
        if len(column) != n:
            raise ValueError(f"a column of {len(column)} values for {n} entries")
        if None not in column:
            kinds.append(_VALUES)
            data += _deltas(column)  # type: ignore[arg-type]  # no None in it
            continue
        present = [v for v in column if v is not None]
        if not present:
            kinds.append(_ALL_NULL)
            continue
        bits = bytearray((n + 7) // 8)
        for i, v in enumerate(column):
            if v is not None:
                bits[i >> 3] |= 1 << (i & 7)
        kinds.append(_WITH_NULLS)
        bitmaps.append(bytes(bits))
        data += _deltas(present)
    code = _narrowest(data)
    head = _HEADER.pack(FORMAT, n, len(columns), code.encode())
    return zlib.compress(b"".join([head, kinds, *bitmaps, array(code, data).tobytes()]), level)


def decode(
    blob: bytes, wanted: Container[int] | None = None
) -> tuple[list[int], list[list[int | None]]]:
    """The ``times`` and ``columns`` that ``encode`` was given. With ``wanted`` (column
    numbers), the other columns come back empty, unread: a query asks for a few."""
    try:
        unzip = zlib.decompressobj()
        raw = unzip.decompress(blob)
        if not unzip.eof or unzip.unused_data:
            raise CorruptBlock("not one whole zlib stream")
        fmt, n, count, code_b = _HEADER.unpack_from(raw, 0)
        if fmt != FORMAT:
            raise CorruptBlock(f"block format {fmt}, this version reads {FORMAT}")
        if code_b not in _CODES:
            raise CorruptBlock(f"typecode {code_b!r} is not an integer one")
        at = _HEADER.size
        kinds = raw[at : at + count + 1]
        if len(kinds) != count + 1 or any(k > _WITH_NULLS for k in kinds):
            raise CorruptBlock("bad column kinds")
        if kinds[0] != _VALUES:
            raise CorruptBlock("the times have gaps")
        at += count + 1
        sizes = [n if kind == _VALUES else 0 for kind in kinds]
        flags: dict[int, list[bool]] = {}
        width = (n + 7) // 8
        for index in [i for i, kind in enumerate(kinds) if kind == _WITH_NULLS]:
            mask = raw[at : at + width]
            if len(mask) != width:
                raise CorruptBlock("a null bitmap is cut short")
            at += width
            flags[index] = [bool(mask[i >> 3] & (1 << (i & 7))) for i in range(n)]
            sizes[index] = sum(flags[index])
        data = array(code_b.decode())
        data.frombytes(raw[at:])
        starts = list(accumulate(sizes, initial=0))
        if len(data) != starts[-1]:
            raise CorruptBlock(f"{len(data)} values for {starts[-1]} expected")
        out: list[list[int | None]] = []
        for index, kind in enumerate(kinds):
            if kind == _ALL_NULL:
                out.append([None] * n)
                continue
            if wanted is not None and index > 0 and (index - 1) not in wanted:
                out.append([])  # not asked for: left unread
                continue
            values: list[int | None] = list(accumulate(data[starts[index] : starts[index + 1]]))
            bits = flags.get(index)
            if bits is not None:
                it = iter(values)
                values = [next(it) if f else None for f in bits]
            out.append(values)
        return [t for t in out[0] if t is not None], out[1:]
    except CorruptBlock:
        raise
    except (zlib.error, struct.error, UnicodeDecodeError, ValueError, StopIteration) as exc:
        raise CorruptBlock(str(exc) or type(exc).__name__) from exc
