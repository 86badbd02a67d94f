"""``{file: PATH}``, ``{json: PATH}`` and ``{$literal: X}`` (DESIGN §2).

A map with exactly one of these keys is replaced: ``file`` by the file's text, ``json`` by the
parsed JSON/YAML, ``$literal`` by ``X`` unchanged.  Paths are relative to the folder of the document
that holds them and must resolve (symlinks included) inside the config root; included files are
capped at :data:`~ci_deployer.config.yamlsource.MAX_INCLUDE_BYTES`.  The results are wrapped in
:class:`~ci_deployer.config._util.Verbatim` so that templates and ``{ref:}`` processing leave them
alone.  Reads are cached per resolver (one render of one environment).
"""

from __future__ import annotations

from pathlib import Path as FsPath
from pathlib import PurePosixPath
from typing import Any

from ci_deployer.config._util import Verbatim, finding
from ci_deployer.config.model import Document
from ci_deployer.config.yamlsource import MAX_INCLUDE_BYTES, ParseProblem, parse_text, read_text
from ci_deployer.findings import Finding
from ci_deployer.paths import Path

INCLUDE_KEYS = ("file", "json")
LITERAL_KEY = "$literal"
_INCLUDE_CODES = {
    "E-FILE-TOO-LARGE": "E-INCLUDE-TOO-LARGE",
    "E-FILE-BINARY": "E-INCLUDE-BINARY",
    "E-FILE-READ": "E-INCLUDE-READ",
}


class IncludeResolver:
    """Resolves the includes of documents under one config root, caching file reads."""

    def __init__(self, root: FsPath) -> None:
        self.root = root
        self.root_real = root.resolve()
        self._cache: dict[tuple[str, FsPath], Any] = {}

    def resolve(self, doc: Document) -> tuple[Any, list[Finding]]:
        """``doc.spec`` with includes replaced by :class:`Verbatim` values, and the problems found."""
        findings: list[Finding] = []
        base = self.root / PurePosixPath(doc.file).parent

        def walk(node: Any, path: Path) -> Any:
            if isinstance(node, dict):
                if len(node) == 1:
                    ((key, value),) = node.items()
                    if key == LITERAL_KEY:
                        return Verbatim(value)
                    if key in INCLUDE_KEYS:
                        return self._include(doc, base, key, value, path=path, findings=findings)
                return {k: walk(v, (*path, k)) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v, (*path, i)) for i, v in enumerate(node)]
            return node

        return walk(doc.spec, ()), findings

    def _include(
        self, doc: Document, base: FsPath, key: str, target: Any, *, path: Path, findings: list[Finding]
    ) -> Any:
        doc_path: Path = ("spec", *path)
        pos = doc.position((*doc_path, key))

        def problem(code: str, message: str, hint: str) -> None:
            findings.append(finding(doc.file, (pos.line, pos.column), code, message, hint, path=doc_path))

        if not isinstance(target, str) or not target.strip():
            problem(
                "E-INCLUDE-PATH",
                f"{{{key}: …}} needs a file path",
                f"write {{{key}: relative/path}}, or {{$literal: {{{key}: …}}}} for a map with this key",
            )
            return None
        try:
            real = (base / target).resolve()
        except (OSError, RuntimeError, ValueError):  # symlink loops, NUL in the path
            real = None
        if real is None or not real.is_relative_to(self.root_real):
            problem(
                "E-INCLUDE-OUTSIDE",
                f"include {target!r} leads outside the config folder",
                "included files must live inside the --config folder (symlinks are resolved)",
            )
            return None
        cache_key = (key, real)
        if cache_key not in self._cache:
            self._cache[cache_key] = self._read(key, real)
        loaded = self._cache[cache_key]
        if isinstance(loaded, ParseProblem):
            where = f" (line {loaded.line})" if loaded.line is not None else ""
            code = _INCLUDE_CODES.get(loaded.code, loaded.code)
            problem(code, f"include {target!r}: {loaded.message}{where}", loaded.hint)
            return None
        return Verbatim(loaded)

    def _read(self, key: str, real: FsPath) -> Any:
        if not real.exists():
            return ParseProblem(
                "E-INCLUDE-MISSING", "file not found", "check the path (it is relative to the document)"
            )
        try:
            text = read_text(real, MAX_INCLUDE_BYTES)
            if key == "file":
                return text
            parsed = parse_text(text, json_file=real.suffix.lower() == ".json", positions=False)
        except ParseProblem as exc:
            return exc
        if parsed.data is None:
            return ParseProblem("E-INCLUDE-EMPTY", "file is empty", "put JSON or YAML in it")
        return parsed.data
