"""runner.Capture (bounded head + tail) and runner.describe_exit, without running anything."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.runner import Capture, describe_exit


def captured(limit, *chunks):
    capture = Capture(limit)
    for chunk in chunks:
        capture.feed(chunk)
    return capture


def marker(dropped):
    return f"\n[queuectl: {dropped} bytes truncated]\n".encode()


def test_under_the_limit_keeps_everything_unmarked():
    assert captured(10, b"hello", b"world").value() == b"helloworld"


def test_over_the_limit_keeps_head_and_tail_with_a_marker():
    capture = captured(10, b"0123456789abcdef")
    assert capture.dropped == 6
    assert capture.value() == b"01234" + marker(6) + b"bcdef"


def test_many_small_chunks_are_the_same_as_one():
    data = bytes(range(256)) * 4
    one = captured(100, data).value()
    many = captured(100, *(data[i:i + 7] for i in range(0, len(data), 7))).value()
    assert one == many


def test_odd_limit_gives_the_extra_byte_to_the_tail():
    assert captured(5, b"abcdefgh").value() == b"ab" + marker(3) + b"fgh"


def test_limit_zero_keeps_only_the_marker():
    assert captured(0, b"abc", b"de").value() == marker(5)


def test_limit_zero_and_no_output_is_empty():
    assert captured(0).value() == b""


@given(st.binary(max_size=300), st.integers(0, 64), st.lists(st.integers(0, 300), max_size=8))
def test_value_is_head_marker_tail_of_the_whole_stream(data, limit, cuts):
    points = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    chunks = [data[a:b] for a, b in zip(points, points[1:], strict=False)]
    head, tail = limit // 2, limit - limit // 2
    if len(data) <= limit:
        expected = data
    else:
        expected = data[:head] + marker(len(data) - limit) + data[len(data) - tail:]
    assert captured(limit, *chunks).value() == expected


@pytest.mark.parametrize(
    ("returncode", "timed_out", "expected"),
    [
        (0, None, (0, None)),
        (1, None, (1, "exit code 1")),
        (3, None, (3, "exit code 3")),
        (127, None, (127, "exit code 127 (command not found)")),
        (-15, None, (143, "killed by signal 15 (SIGTERM)")),
        (-9, None, (137, "killed by signal 9 (SIGKILL)")),
        (None, None, (None, "no exit status")),
        (-9, 2.0, (None, "timed out after 2s")),
        (0, 0.5, (None, "timed out after 0.5s")),
    ],
)
def test_describe_exit(returncode, timed_out, expected):
    assert describe_exit(returncode, timed_out) == expected


def test_describe_exit_unknown_signal_number():
    assert describe_exit(-99, None) == (227, "killed by signal 99 (SIG99)")


# -- unsent(): what streaming hands to the store while the command runs ---------------------


def test_unsent_hands_out_each_byte_once_with_its_position():
    capture = Capture(100)
    capture.feed(b"hello ")
    assert capture.unsent() == [(0, b"hello ")]
    assert capture.unsent() == []
    capture.feed(b"world")
    assert capture.unsent() == [(6, b"world")]


def test_unsent_splits_at_the_head_boundary_and_skips_what_fell_out_of_the_tail():
    capture = Capture(10)  # head 5, tail 5
    capture.feed(b"abc")
    assert capture.unsent() == [(0, b"abc")]
    capture.feed(b"defgh")
    assert capture.unsent() == [(3, b"de"), (5, b"fgh")]
    capture.feed(b"0123456789")  # 18 bytes so far: the tail keeps the last 5
    assert capture.unsent() == [(13, b"56789")]  # positions 8..12 were never kept
    assert capture.total == 18


@given(st.lists(st.binary(max_size=40), max_size=30), st.integers(0, 64))
def test_unsent_pieces_are_in_order_inside_the_bound_and_end_at_the_total(chunks, limit):
    capture = Capture(limit)
    end = 0
    for chunk in chunks:
        capture.feed(chunk)
        for position, data in capture.unsent():
            assert position >= end and data  # never repeated, never empty
            assert position < capture.head_limit or position >= capture.total - capture.tail_limit
            end = position + len(data)
    assert capture.unsent() == []
    if capture.total:
        assert end == capture.total or limit == 0
