"""Parsed config files kept between runs, by content, in the user's cache folder.

Parsing (libyaml's composing, then :mod:`ci_deployer.config.yamlsource`'s YAML 1.2 typing and
positions) is most of what loading a config costs: 1,000 small documents take ~50 ms to parse and
~5 ms to take from here.  An entry is the marshalled ``(data, positions)`` of one text, keyed by the
BLAKE2b digest of the text and the parse options.  A hit gives fresh objects, so callers may change
what they get.  A text that fails to parse is never cached: it is parsed again, so its finding is
exact.

Why not under the config folder, as linters keep theirs: anything there (git-ignored or not) can
arrive in a pull request, and a planted entry would make ci-deployer deploy something other than the
reviewed file.  The cache lives in the user's cache folder (``CI_DEPLOYER_CACHE_DIR``, else
``$XDG_CACHE_HOME/ci-deployer``, else ``~/.cache/ci-deployer``; ``CI_DEPLOYER_CACHE_DIR=off``
disables it: :mod:`ci_deployer.settings`), under ``parse/``: one file per config folder holding the
entries its last load used, so it never outgrows the config.  It holds what the config's files hold
(the files are read from the same disk); secrets never reach config files as values.

It is never trusted across versions: each file starts with a stamp of ci-deployer's version,
PyYAML's (and whether libyaml is in use) and the size and modification time of ``yamlsource.py``;
a file with another stamp, or one that cannot be read or unmarshalled, is ignored (and replaced).
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ci_deployer.config import yamlsource
from ci_deployer.config.yamlsource import Parsed, parse_text

FORMAT = 1
STALE_AFTER = 30 * 24 * 3600  # a config folder not loaded for 30 days: its file is removed on a save

Key = tuple[bytes, bool, bool]


def _stamp() -> tuple[Any, ...]:
    import yaml

    import ci_deployer

    source = Path(yamlsource.__file__).stat()
    return (
        FORMAT,
        ci_deployer.__version__,
        yaml.__version__,
        bool(getattr(yaml, "__with_libyaml__", False)),
        source.st_size,
        source.st_mtime_ns,
    )


class ParseCache:
    """The parse results of one config folder's files (see the module docstring)."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self._stamp = _stamp()
        self._known: dict[Key, bytes] = self._read()
        self._used: dict[Key, bytes] = {}
        self.hits = 0

    @classmethod
    def for_root(cls, folder: Path, root: Path) -> ParseCache:
        """The cache of the config at ``root``, kept in ``folder``."""
        name = hashlib.sha256(os.path.realpath(root).encode("utf-8", "surrogateescape")).hexdigest()[:24]
        return cls(folder / "parse" / f"{name}.marshal")

    def _read(self) -> dict[Key, bytes]:
        try:
            # marshal is unsafe only against data crafted by someone who can write the user's own
            # cache folder (who could as well change the installed package); never the workspace
            stamp, entries = marshal.loads(self.file.read_bytes())  # noqa: S302
        except (OSError, EOFError, ValueError, TypeError):
            return {}
        return entries if stamp == self._stamp and isinstance(entries, dict) else {}

    def parse(self, text: str, *, json_file: bool = False, positions: bool = True) -> Parsed:
        """:func:`ci_deployer.config.yamlsource.parse_text`, from the cache when the same text was
        parsed before with the same options."""
        key = (hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest(), json_file, positions)
        blob = self._used.get(key) or self._known.get(key)
        if blob is not None:
            self._used[key] = blob
            self.hits += 1
            data, found = marshal.loads(blob)  # noqa: S302 (an entry of the file _read accepted)
            return Parsed(data, found)
        parsed = parse_text(text, json_file=json_file, positions=positions)  # a ParseProblem is not kept
        self._used[key] = marshal.dumps((parsed.data, parsed.positions))
        return parsed

    def save(self) -> None:
        """Keep the entries this load used (nothing is written when they are the ones read).  A cache
        that cannot be written is no error: the next run parses again."""
        if self._used.keys() == self._known.keys():
            with contextlib.suppress(OSError):
                os.utime(self.file)  # still in use: not stale (see _prune)
            return
        folder = self.file.parent
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, name = tempfile.mkstemp(dir=folder, prefix=".parse-", suffix=".tmp")
            temp = Path(name)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(marshal.dumps((self._stamp, self._used)))
                temp.replace(self.file)
            except OSError:
                temp.unlink(missing_ok=True)
                raise
            self._known = dict(self._used)
            _prune(folder, keep=self.file)


def _prune(folder: Path, keep: Path) -> None:
    """Remove the files of config folders not loaded for :data:`STALE_AFTER` seconds."""
    cutoff = time.time() - STALE_AFTER
    for entry in os.scandir(folder):
        with contextlib.suppress(OSError):
            if entry.path != str(keep) and entry.is_file() and entry.stat().st_mtime < cutoff:
                Path(entry.path).unlink()
