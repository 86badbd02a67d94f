"""jsontext.dumps writes exactly the text of ``json.dumps(indent=2)``: plan files and snapshots are
compared, hashed and reviewed as text, so a single byte of difference would be a bug."""

from __future__ import annotations

import json
import random
from enum import IntEnum, StrEnum
from typing import Any

import pytest

from ci_deployer import jsontext

STRINGS = ["", "a", "é ü", "line\nbreak", 'quote " and \\', "\u2028", "\x00\x1f", "😀", "secrets://X"]
SCALARS: list[Any] = [None, True, False, 0, -7, 2**70, 1.5, -0.0, 1e-300, float("nan"), float("inf"), *STRINGS]


def value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 4 or pick < 0.4:
        return rng.choice(SCALARS)
    if pick < 0.7:
        return {rng.choice(STRINGS) + str(rng.randrange(5)): value(rng, depth + 1) for _ in range(rng.randrange(5))}
    if pick < 0.9:
        return [value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return tuple(value(rng, depth + 1) for _ in range(rng.randrange(3)))


@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize("sort_keys", [True, False])
def test_same_text_as_json_dumps(ensure_ascii: bool, sort_keys: bool) -> None:
    rng = random.Random(13)
    for _ in range(2000):
        data = value(rng)
        expected = json.dumps(data, indent=2, ensure_ascii=ensure_ascii, sort_keys=sort_keys)
        assert jsontext.dumps(data, ensure_ascii=ensure_ascii, sort_keys=sort_keys) == expected


class Color(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


def test_keys_that_are_not_strings_and_subclasses_as_json_writes_them() -> None:
    data = {"a": [{1: "one", None: [], 2.5: {}}, {True: Color.RED}], "b": {"c": Level.HIGH, "d": ("x", ["y"])}}
    assert jsontext.dumps(data) == json.dumps(data, indent=2)
    assert jsontext.dumps(data, sort_keys=False, ensure_ascii=False) == json.dumps(data, indent=2, ensure_ascii=False)


def test_what_json_refuses_is_refused() -> None:
    with pytest.raises(TypeError):
        jsontext.dumps({"a": [{"b": {1, 2}}]})
