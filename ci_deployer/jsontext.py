"""Indented JSON text, fast: the files a plan or an apply writes (plan.json, snapshots) hold
10,000 resources, and ``json.dumps(indent=2)`` runs the pure-Python encoder (the C encoder cannot
indent), a generator per value: a third of a big plan's time.  :func:`dumps` returns the same
text in a third of the time."""

from __future__ import annotations

import json
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

INDENT = "  "


def dumps(data: Any, *, ensure_ascii: bool = True, sort_keys: bool = False) -> str:
    """``json.dumps(data, indent=2, ensure_ascii=ensure_ascii, sort_keys=sort_keys)``, the same text."""
    string = encode_basestring_ascii if ensure_ascii else encode_basestring
    out: list[str] = []
    put = out.append

    def walk(value: Any, pad: str) -> None:
        if isinstance(value, str):
            put(string(value))
        elif value is None:
            put("null")
        elif value is True:
            put("true")
        elif value is False:
            put("false")
        elif isinstance(value, int):
            put(int.__repr__(value))
        elif isinstance(value, dict) and all(isinstance(k, str) for k in value):
            if not value:
                put("{}")
                return
            inner = pad + INDENT
            sep = "{\n" + inner
            for key, item in sorted(value.items()) if sort_keys else value.items():
                if item.__class__ is str:  # most values: no call
                    put(f"{sep}{string(key)}: {string(item)}")
                else:
                    put(f"{sep}{string(key)}: ")
                    walk(item, inner)
                sep = ",\n" + inner
            put("\n" + pad + "}")
        elif isinstance(value, list | tuple):
            if not value:
                put("[]")
                return
            inner = pad + INDENT
            sep = "[\n" + inner
            for item in value:
                if item.__class__ is str:
                    put(sep + string(item))
                else:
                    put(sep)
                    walk(item, inner)
                sep = ",\n" + inner
            put("\n" + pad + "]")
        else:  # floats, maps with keys that are not strings, anything json refuses: json itself
            text = json.dumps(value, indent=2, ensure_ascii=ensure_ascii, sort_keys=sort_keys)
            put(text.replace("\n", "\n" + pad))  # a JSON text has no raw line break inside a string

    walk(data, "")
    return "".join(out)
