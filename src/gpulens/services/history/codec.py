"""Packing a block of history into one compact blob, and back.

A block is one series' (a GPU's, or the host's) entries for one span of time in
one tier: ``n`` entries, each a time offset and, per metric, either one value
(the raw tier) or four (``count``, ``min``, ``max``, ``sum``: a rollup bucket,
from which the mean follows and coarser buckets combine exactly). Values are
integers (each metric has a fixed scale, see ``metrics.py``) or ``None``.

Layout, then zlib: a header (format, ``n``, number of columns), the time
offsets, then every column. Each column is stored as the differences between
consecutive values in the narrowest of int8/16/32/64 they fit, so a steady
reading packs to zeros, which zlib all but removes. A column with no value is
one byte; one with some ``None``s carries a bitmap of them. Decoding uses
``array`` and ``itertools.accumulate``, so its cost per value is C's, not
Python's.
"""

from __future__ import annotations

import struct
import zlib
from array import array
from collections.abc import Sequence
from itertools import accumulate, pairwise

FORMAT = 1
_HEADER = struct.Struct("<BHH")  # format, entries, columns
_COLUMN = struct.Struct("<Bc")  # kind, array typecode
_ALL_NULL, _VALUES, _WITH_NULLS = 0, 1, 2
_TYPECODES = (("b", 1 << 7), ("h", 1 << 15), ("i", 1 << 31), ("q", 1 << 63))

Column = Sequence[int | None]


class CorruptBlock(ValueError):
    """A blob that is not a block this version wrote."""


def _narrowest(values: Sequence[int]) -> str:
    low, high = min(values, default=0), max(values, default=0)
    for code, bound in _TYPECODES:
        if -bound <= low and high < bound:
            return code
    raise OverflowError(f"a difference of {max(-low, high)} does not fit in 64 bits")


def _pack_ints(values: Sequence[int]) -> tuple[str, bytes]:
    deltas = [values[0], *(b - a for a, b in pairwise(values))] if values else []
    code = _narrowest(deltas)
    return code, array(code, deltas).tobytes()


def encode(times: Sequence[int], columns: Sequence[Column]) -> bytes:
    """``times``: ``n`` non-decreasing offsets; ``columns``: each ``n`` ints or ``None``s."""
    n = len(times)
    parts = [_HEADER.pack(FORMAT, n, len(columns))]
    code, data = _pack_ints(times)
    parts += [_COLUMN.pack(_VALUES, code.encode()), data]
    for column in columns:
        if len(column) != n:
            raise ValueError(f"a column of {len(column)} values for {n} entries")
        present = [v for v in column if v is not None]
        if not present:
            parts.append(_COLUMN.pack(_ALL_NULL, b"b"))
            continue
        code, data = _pack_ints(present)
        if len(present) == n:
            parts += [_COLUMN.pack(_VALUES, code.encode()), data]
        else:
            bits = bytearray((n + 7) // 8)
            for i, v in enumerate(column):
                if v is not None:
                    bits[i >> 3] |= 1 << (i & 7)
            parts += [_COLUMN.pack(_WITH_NULLS, code.encode()), bytes(bits), data]
    return zlib.compress(b"".join(parts), 6)


def decode(blob: bytes) -> tuple[list[int], list[list[int | None]]]:
    """The ``times`` and ``columns`` that ``encode`` was given."""
    try:
        raw = zlib.decompress(blob)
        fmt, n, count = _HEADER.unpack_from(raw, 0)
        if fmt != FORMAT:
            raise CorruptBlock(f"block format {fmt}, this version reads {FORMAT}")
        at = _HEADER.size
        times: list[int] = []
        columns: list[list[int | None]] = []
        for index in range(count + 1):
            kind, code_b = _COLUMN.unpack_from(raw, at)
            at += _COLUMN.size
            code = code_b.decode()
            if kind == _ALL_NULL:
                columns.append([None] * n)
                continue
            mask: bytes | None = None
            if kind == _WITH_NULLS:
                mask = raw[at : at + (n + 7) // 8]
                at += (n + 7) // 8
            elif kind != _VALUES:
                raise CorruptBlock(f"unknown column kind {kind}")
            flags = [bool(mask[i >> 3] & (1 << (i & 7))) for i in range(n)] if mask else None
            size = sum(flags) if flags is not None else n
            values = array(code)
            width = values.itemsize * size
            values.frombytes(raw[at : at + width])
            if len(values) != size:
                raise CorruptBlock("a column is cut short")
            at += width
            present = list(accumulate(values))
            if index == 0:
                times = present
            elif flags is None:
                columns.append(list(present))
            else:
                it = iter(present)
                columns.append([next(it) if f else None for f in flags])
        if at != len(raw):
            raise CorruptBlock(f"{len(raw) - at} bytes after the last column")
        return times, columns
    except (zlib.error, struct.error, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, CorruptBlock):
            raise
        raise CorruptBlock(str(exc)) from exc
