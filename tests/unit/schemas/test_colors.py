from __future__ import annotations

import pytest

from schemas.colors import RGBA, parse_color


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#fff", RGBA(255, 255, 255, 255)),
        ("#FFF", RGBA(255, 255, 255, 255)),
        ("#ffffff", RGBA(255, 255, 255, 255)),
        ("#ff8c00", RGBA(255, 140, 0, 255)),
        ("#ffffffcc", RGBA(255, 255, 255, 204)),
        ("#0008", RGBA(0, 0, 0, 136)),
        ("rgb(255, 140, 0)", RGBA(255, 140, 0, 255)),
        ("rgb(255,140,0)", RGBA(255, 140, 0, 255)),
        ("rgba(255, 140, 0, 0.5)", RGBA(255, 140, 0, 128)),
        ("rgba(255, 140, 0, 1)", RGBA(255, 140, 0, 255)),
        ("rgba(255, 140, 0, 0)", RGBA(255, 140, 0, 0)),
        ("rgba(255, 140, 0, 50%)", RGBA(255, 140, 0, 128)),
        ("rgba(255, 140, 0, 128)", RGBA(255, 140, 0, 128)),
        ("white", RGBA(255, 255, 255, 255)),
        ("black", RGBA(0, 0, 0, 255)),
        ("red", RGBA(255, 0, 0, 255)),
        ("Orange", RGBA(255, 165, 0, 255)),
        ("transparent", RGBA(0, 0, 0, 0)),
        ("(255, 140, 0, 255)", RGBA(255, 140, 0, 255)),
        ("(229, 46, 113, 255)", RGBA(229, 46, 113, 255)),
        ("(10, 20, 30)", RGBA(10, 20, 30, 255)),
        ("  #abc  ", RGBA(0xAA, 0xBB, 0xCC, 255)),
    ],
)
def test_every_colour_syntax_parses_to_the_right_rgba(text: str, expected: RGBA) -> None:
    assert parse_color(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [([1, 2, 3], RGBA(1, 2, 3, 255)), ((1, 2, 3, 4), RGBA(1, 2, 3, 4))],
)
def test_lists_from_json(value: list[int] | tuple[int, ...], expected: RGBA) -> None:
    assert parse_color(value) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "#ggg",
        "#12345",
        "rgb(256, 0, 0)",
        "rgba(0, 0, 0, 150%)",
        "(300, 0, 0)",
        "not-a-colour",
        [1, 2],
        [1, 2, 3, 4, 5],
        12,
    ],
)
def test_bad_colours_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match=r"colou?r|channel|alpha|integers"):
        parse_color(bad)


def test_hex_serialisation_round_trips() -> None:
    colour = RGBA(1, 2, 255, 128)
    assert colour.hex() == "#0102ff80"
    assert parse_color(colour.hex()) == colour
