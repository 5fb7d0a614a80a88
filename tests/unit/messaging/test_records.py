"""Dead letters always fit under the producer's limit and keep what identifies the record."""

from __future__ import annotations

import base64
import hashlib

import pytest

from schemas.errors import ErrorCode
from schemas.events import DeadLetter, ErrorInfo
from streams.messaging.records import Record, dead_letter

LIMIT = 1_048_576
ERROR = ErrorInfo(code=ErrorCode.INVALID_REQUEST, message="bad")


def letter_of(record: Record, error: ErrorInfo = ERROR) -> tuple[int, DeadLetter]:
    letter = dead_letter(record, "unparseable", error, max_message_bytes=LIMIT)
    return len(letter.model_dump_json().encode()), letter


@pytest.mark.parametrize(
    "value",
    [
        b"\x00" * 3_000_000,  # escapes to six bytes per byte in JSON
        "é".encode() * 1_000_000,  # two-byte characters, cut between them
        bytes(range(256)) * 8000,  # binary: base64
        b"{" * 2_000_000,
    ],
    ids=["nul", "utf8", "binary", "text"],
)
def test_any_value_fits_and_is_identified(value: bytes) -> None:
    size, letter = letter_of(Record(value, "requests", 2, 40, key=b"k" * 5000))
    assert size < LIMIT
    assert letter.original_truncated
    assert letter.original_size_bytes == len(value)
    assert letter.original_sha256 == hashlib.sha256(value).hexdigest()
    head = letter.original
    if letter.original_encoding == "base64":
        assert value.startswith(base64.b64decode(head))
    else:
        assert value.decode("utf-8", "ignore").startswith(head)


def test_a_small_value_is_kept_whole_with_its_key_and_headers() -> None:
    record = Record(
        b'{"request_id": 1}', "requests", 0, 5, key=b"r-1", headers={"a": b"1", "b": b"\xff"}
    )
    _, letter = letter_of(record)
    assert letter.original == '{"request_id": 1}'
    assert not letter.original_truncated
    assert letter.source_key == "r-1"
    assert letter.source_headers == {"a": "1", "b": "\\xff"}


def test_long_error_messages_and_many_headers_are_clipped() -> None:
    headers = {f"h{i}": b"v" * 5000 for i in range(100)}
    error = ErrorInfo(code=ErrorCode.INTERNAL_ERROR, message="m" * 100_000)
    size, letter = letter_of(Record(b"x", "t", 0, 0, headers=headers), error)
    assert size < 100_000
    assert len(letter.source_headers) == 32
    assert letter.error.message.endswith("(98000 more)")
