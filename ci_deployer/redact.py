"""Secret redaction shared by every output path (stdout, files, PR comments, crash logs).

Resolved secret values are registered here as soon as they are read; :func:`redact` masks them in
any text.  The registry is per process and starts empty (nothing happens at import time).  Secret
*structure* (secret-ish keys, header values) is redacted by :mod:`ci_deployer.engine.canonical`;
this is the last line of defence for free text, so it has to catch a secret in every shape an API
error, a log line or a report can give it:

* every **form** of :func:`forms`: raw, JSON-escaped (once and twice: a JSON body quoted inside a
  JSON error message), Python ``repr``, HTML-escaped, URL-encoded (``quote`` and ``quote_plus``) and
  base64 of the raw and JSON-escaped value (standard and URL-safe, at the three byte alignments it
  can have inside a longer encoded string, as GitHub's runner masks base64 —
  ``ValueEncoders.Base64StringEscapeShift1/2``);
* **case-insensitively** (an API may upper-case what it echoes);
* **cut short**: a prefix of at least :data:`PREFIX_LENGTH` characters of any form, standing at the
  end of the text or before a character that cannot continue it (anything but a letter or digit:
  ``…``, a quote, a space, a newline) — error messages truncate long values.

Speed matters: plans of thousands of resources pass through here.  Instead of scanning the text
once per secret and form, the 8-character prefixes of all forms are compiled into one trie-shaped
regex per distinct first character (each starts with a literal, which ``re`` finds with a fast
skip-ahead search), run over the case-folded text once; each candidate is then extended by plain
comparison.  About 0.15 s for 5 MB and 20 secrets (``tests/test_redact.py`` keeps it under 1 s).
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

MASK = "***"
# Values shorter than this are never registered: masking "a" would garble all output.  Placeholder
# values are refused below 8 characters before they are ever registered or sent
# (ci_deployer.config.secrets.MIN_SECRET_LENGTH); this floor only concerns values registered by other
# paths (a literal token typed into environments.yaml, one line of a multi-line mask).
MIN_LENGTH = 4
# A run of this many characters of a form (or more) is masked even when the text cuts it short.
PREFIX_LENGTH = 8


def forms(value: str) -> list[str]:
    """Every shape ``value`` may be printed in, raw first, without duplicates (see the module doc).

    Two layers: the value as it may sit in JSON (raw, JSON-escaped, JSON-escaped twice — a JSON body
    quoted in a JSON error message), then each of those as sent over the wire (as is, URL-encoded,
    base64).  Forms shorter than :data:`MIN_LENGTH` are left out (a base64 core can be tiny).
    """
    json_text = json.dumps(value, ensure_ascii=False)[1:-1]
    json_ascii = json.dumps(value)[1:-1]
    layers = dict.fromkeys(
        (
            value,
            json_text,
            json_ascii,
            json.dumps(json_text, ensure_ascii=False)[1:-1],
            json.dumps(json_ascii)[1:-1],
        )
    )
    candidates = [
        json_text.replace("/", "\\/"),  # some serializers escape '/' too
        repr(value)[1:-1],
        html.escape(value, quote=True),
        html.escape(value, quote=False).replace('"', "&#34;").replace("'", "&#39;"),  # Jinja/markupsafe style
    ]
    for text in layers:
        candidates += [text, quote(text, safe=""), quote(text), quote_plus(text), quote_plus(text, safe="/")]
        candidates += _base64_cores(text.encode("utf-8"))
    out: list[str] = [value] if len(value) >= MIN_LENGTH else []
    for form in candidates:
        if len(form) >= MIN_LENGTH and form not in out:
            out.append(form)
    return out


def _base64_cores(data: bytes) -> list[str]:
    """The base64 characters fixed by ``data`` alone, wherever it sits in a longer encoded stream.

    At alignment ``a`` (the bytes before it, mod 3), the first ``(3 - a) % 3`` bytes share a
    3-byte group with unknown neighbours; the rest start on a group boundary and give
    ``len * 8 // 6`` characters that no neighbour can change.
    """
    cores = []
    for skip in (0, 1, 2):
        rest = data[skip:]
        if not rest:
            continue
        fixed = len(rest) * 8 // 6
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            cores.append(encode(rest).decode("ascii")[:fixed])
    return cores


def _fold(text: str) -> str:
    """Lower-case ``text`` without changing its length, so offsets in the result are offsets in it.

    ``str.lower`` maps one character to one character except U+0130 (İ → i + combining dot).
    """
    if "\u0130" in text:
        text = text.replace("\u0130", "i")
    return text.lower()


_Trie = dict[str, "_Trie"]


def _trie_pattern(keys: Iterable[str]) -> str:
    """A regex matching any of ``keys`` (literal strings), shaped as a trie: shared prefixes are
    tested once, which is what keeps hundreds of keys cheap."""
    trie: _Trie = {}
    for key in keys:
        node = trie
        for char in key:
            node = node.setdefault(char, {})
        node[""] = {}  # a key ends here

    def emit(node: _Trie) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


@dataclass(frozen=True)
class _Index:
    """The compiled search over every registered value's forms (rebuilt when a value is added)."""

    patterns: tuple[re.Pattern[str], ...]
    by_key: dict[str, tuple[str, ...]]  # folded key (8-char prefix, or a whole shorter form) → folded forms
    key_lengths: tuple[int, ...]  # distinct key lengths, longest first

    @classmethod
    def build(cls, values: Iterable[str]) -> _Index:
        by_key: dict[str, list[str]] = {}
        for value in values:
            for form in forms(value):
                folded = _fold(form)
                key = folded[:PREFIX_LENGTH]
                bucket = by_key.setdefault(key, [])
                if folded not in bucket:
                    bucket.append(folded)
        groups: dict[str, list[str]] = {}
        for key in by_key:
            groups.setdefault(key[0], []).append(key[1:])
        patterns = tuple(re.compile(re.escape(first) + _trie_pattern(rests)) for first, rests in sorted(groups.items()))
        lengths = tuple(sorted({len(k) for k in by_key}, reverse=True))
        return cls(patterns, {k: tuple(v) for k, v in by_key.items()}, lengths)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` of every masked stretch of ``text``, unsorted, possibly overlapping."""
        folded = _fold(text)
        out: list[tuple[int, int]] = []
        for pattern in self.patterns:
            pos = 0
            while (match := pattern.search(folded, pos)) is not None:
                start = match.start()
                end = self._extent(folded, start)
                if end > start:
                    out.append((start, end))
                pos = start + 1  # overlapping occurrences: an echo can repeat a secret's first characters
        return out

    def _extent(self, folded: str, start: int) -> int:
        """How far from ``start`` a form (or a form cut short) runs; ``start`` when none does."""
        best = start
        for length in self.key_lengths:
            for form in self.by_key.get(folded[start : start + length], ()):
                stop = start + len(form)
                segment = folded[start:stop]
                if segment == form:
                    best = max(best, stop)
                    continue
                agree = length
                while agree < len(segment) and segment[agree] == form[agree]:
                    agree += 1
                end = start + agree
                if agree >= PREFIX_LENGTH and (end == len(folded) or not folded[end].isalnum()):
                    best = max(best, end)
        return best


class _Registry:
    """The registered values and their compiled index (rebuilt lazily after a registration)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: set[str] = set()
        self.index: _Index | None = None

    def add(self, parts: list[str]) -> None:
        with self.lock:
            new = [p for p in parts if p not in self.values]
            if new:
                self.values.update(new)
                self.index = None

    def current(self) -> _Index | None:
        with self.lock:
            if not self.values:
                return None
            if self.index is None:
                self.index = _Index.build(self.values)
            return self.index

    def clear(self) -> None:
        with self.lock:
            self.values.clear()
            self.index = None


_registry = _Registry()


def register(value: str) -> None:
    """Remember a secret value so that it is masked wherever it would be printed.

    Each line of a multi-line value is also remembered on its own (an API may re-wrap lines)."""
    if not value or len(value) < MIN_LENGTH:
        return
    _registry.add([value] + [line.strip() for line in value.splitlines() if len(line.strip()) >= PREFIX_LENGTH])


def registered() -> frozenset[str]:
    """The registered values (for ``::add-mask::`` in the action)."""
    with _registry.lock:
        return frozenset(_registry.values)


def redact(text: str) -> str:
    """``text`` with every registered secret, in any of its forms (see the module doc), replaced by ``***``."""
    if not text:
        return text
    index = _registry.current()
    if index is None:
        return text
    spans = index.spans(text)
    if not spans:
        return text
    spans.sort()
    pieces: list[str] = []
    cursor = 0
    current_start, current_end = spans[0]
    for start, end in spans[1:]:
        if start <= current_end:
            current_end = max(current_end, end)
            continue
        pieces += [text[cursor:current_start], MASK]
        cursor = current_end
        current_start, current_end = start, end
    pieces += [text[cursor:current_start], MASK, text[current_end:]]
    return "".join(pieces)


def clear() -> None:
    """Forget all registered values (tests)."""
    _registry.clear()
