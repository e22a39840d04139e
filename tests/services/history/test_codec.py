"""The block codec: what goes in comes out, in the narrowest integer type, and a blob this
version did not write is a ``CorruptBlock``, never another exception or a wrong answer."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gpulens.services.history import codec
from gpulens.services.history.codec import CorruptBlock, decode, encode

# Values whose consecutive differences fit in 64 bits (the codec stores differences).
BIG = 1 << 62
values = st.one_of(st.none(), st.integers(-BIG, BIG - 1))


@st.composite
def blocks(draw: st.DrawFn) -> tuple[list[int], list[list[int | None]]]:
    n = draw(st.integers(0, 300))
    times = sorted(draw(st.lists(st.integers(0, 1 << 40), min_size=n, max_size=n)))
    width = draw(st.integers(0, 6))
    column: st.SearchStrategy[list[int | None]] = st.one_of(
        st.lists(values, min_size=n, max_size=n),
        st.just([None] * n),  # a metric this GPU does not report
        st.lists(st.integers(-5, 5), min_size=n, max_size=n),  # a steady reading
    )
    return times, [draw(column) for _ in range(width)]


@settings(deadline=None, max_examples=200)
@given(blocks())
@example(([], []))
@example(([], [[], []]))
@example(([0, 1000], [[None, None], [-BIG, BIG - 1], [0, None]]))
def test_round_trip(block: tuple[list[int], list[list[int | None]]]) -> None:
    times, columns = block
    assert decode(encode(times, columns)) == (times, columns)


def test_empty_block_and_all_none_columns_round_trip() -> None:
    assert decode(encode([], [])) == ([], [])
    assert decode(encode([], [[], []])) == ([], [[], []])
    assert decode(encode([0, 5, 9], [[None] * 3])) == ([0, 5, 9], [[None] * 3])


def _typecode(blob: bytes) -> str:
    """The array typecode a block's differences are stored in (its header's last byte)."""
    _format, _n, _count, code = struct.unpack_from("<BHHc", zlib.decompress(blob))
    return str(code.decode())


@pytest.mark.parametrize(
    ("column", "code"),
    [
        ([0, 127, 0], "b"),  # differences 127, -127
        ([0, 128], "h"),
        ([-128, -256], "b"),
        ([0, -129], "h"),
        ([0, 1 << 15], "i"),
        ([0, -(1 << 31)], "i"),
        ([0, 1 << 31], "q"),
        ([5_000_000_000] * 4, "q"),  # the first value is stored as is
        ([70_000, 70_001, 70_002], "i"),
        ([None, 3, None, -3], "b"),  # a None is in the bitmap, not among the differences
    ],
)
def test_the_data_takes_the_narrowest_type_its_differences_fit(
    column: list[int | None], code: str
) -> None:
    times = list(range(len(column)))
    blob = encode(times, [column, [None] * len(column)])
    assert _typecode(blob) == code
    assert decode(blob) == (times, [column, [None] * len(column)])


def test_the_times_count_in_the_choice_of_type() -> None:
    assert _typecode(encode([0, 1, 2], [[1, 1, 1]])) == "b"
    assert _typecode(encode([0, 1000, 2000], [[1, 1, 1]])) == "h"  # 1 s apart, in ms


def test_a_difference_beyond_64_bits_is_refused_not_wrapped() -> None:
    with pytest.raises(OverflowError):
        encode([0, 1], [[-(1 << 63), (1 << 63) - 1]])


def test_columns_must_match_the_times() -> None:
    with pytest.raises(ValueError, match="2 values for 3 entries"):
        encode([0, 1, 2], [[1, 2]])


GOOD = encode([0, 1000, 2000], [[10, None, 30], [None] * 3, [7, 7, 7]])


def _rezip(raw: bytes) -> bytes:
    return zlib.compress(raw)


def _head(n: int, columns: int, code: str) -> bytes:
    return struct.pack("<BHHc", codec.FORMAT, n, columns, code.encode())


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"", id="empty"),
        pytest.param(GOOD[: len(GOOD) // 2], id="truncated"),
        pytest.param(GOOD[:-1], id="last byte cut"),
        pytest.param(b"\x00garbage\xff" * 10, id="garbage"),
        pytest.param(GOOD + b"\x00", id="a byte after the stream"),
        pytest.param(GOOD + GOOD, id="two blocks"),
        pytest.param(_rezip(bytes([2]) + zlib.decompress(GOOD)[1:]), id="format 2"),
        pytest.param(_rezip(bytes([0]) + zlib.decompress(GOOD)[1:]), id="format 0"),
        pytest.param(_rezip(zlib.decompress(GOOD) + b"\x00"), id="trailing bytes inside"),
        pytest.param(_rezip(zlib.decompress(GOOD)[:-1]), id="a column cut short"),
        pytest.param(_rezip(zlib.decompress(GOOD)[:3]), id="header cut short"),
        pytest.param(_rezip(_head(3, 0, "b") + b"\x00"), id="times all null"),
        pytest.param(_rezip(_head(3, 0, "b") + b"\x02\x05" + bytes(2)), id="times with nulls"),
        pytest.param(_rezip(_head(2, 0, "d") + b"\x01" + bytes(16)), id="floats"),
        pytest.param(_rezip(_head(2, 0, "u") + b"\x01" + bytes(8)), id="text"),
        pytest.param(_rezip(_head(1, 0, "x") + b"\x01" + bytes(8)), id="unknown typecode"),
        pytest.param(_rezip(_head(1, 1, "b") + b"\x01\x07" + bytes(2)), id="unknown kind"),
        pytest.param(_rezip(_head(1, 3, "b") + b"\x01\x01"), id="kinds cut short"),
        pytest.param(_rezip(_head(9, 1, "b") + b"\x01\x02"), id="bitmap missing"),
        pytest.param(_rezip(_head(9, 1, "b") + b"\x01\x02\xff"), id="bitmap cut short"),
        pytest.param(_rezip(_head(2, 0, "b") + b"\x01" + bytes(3)), id="a value too many"),
    ],
)
def test_a_blob_this_version_did_not_write_is_a_corrupt_block(blob: bytes) -> None:
    with pytest.raises(CorruptBlock):
        decode(blob)


def test_the_format_byte_is_named() -> None:
    with pytest.raises(CorruptBlock, match="format 2"):
        decode(_rezip(bytes([2]) + zlib.decompress(GOOD)[1:]))


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=200))
@example(_head(4, 1, "b") + b"\x01\x02\x00" + bytes(4))
@example(_head(3, 0, "u") + b"\x01" + bytes(12))
@example(_head(3, 1, "b") + b"\x02\x01\x05" + bytes(5))
def test_any_payload_decodes_consistently_or_is_corrupt(payload: bytes) -> None:
    """Whatever a damaged file holds (under a valid zlib stream), decoding either gives a
    block of ``n`` integer times and ``n``-long integer-or-None columns, or CorruptBlock."""
    try:
        times, columns = decode(zlib.compress(payload))
    except CorruptBlock:
        return
    assert all(type(t) is int for t in times)
    for column in columns:
        assert len(column) == len(times)
        assert all(v is None or type(v) is int for v in column)


def test_format_is_the_first_byte() -> None:
    assert zlib.decompress(GOOD)[0] == codec.FORMAT
