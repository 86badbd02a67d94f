"""Knowledge-base documents: files in the config repository that Vapi indexes for a knowledge base.

A ``KnowledgeBase`` document lists its sources in a ``documents:`` block beside ``spec`` (an envelope
key, like ``policies``)::

    documents:
      - knowledge/returns/*.md              # a path or a glob (``*``, ``?``, ``[…]``, ``**``)
      - {file: knowledge/shipping-times.pdf}  # exactly this file (no glob)

and a query tool's inline ``knowledgeBases[].fileIds`` may name the same files as
``{document: knowledge/x.md}`` (the file's uploaded id is sent).  ``{file: …}`` there would inline the
file's *text* instead, which is what an include does everywhere else.

Paths are relative to the config root (``--config``), not to the document: the same path names the
same file in every document, and ``ci-deployer export`` writes a base's files to ``knowledge/<slug>/``.

Guards, per file, each a located finding (the ones of includes, plus what Vapi accepts):

- the file resolves (symlinks included) inside the config root; no ``..`` leads out;
- its type is one Vapi indexes (:data:`TYPES`, from Vapi's knowledge-base docs: "txt, pdf, docx, doc,
  csv, md, tsv, yaml, json, xml and log files");
- at most :data:`MAX_FILE_BYTES` (10 MiB; Vapi's spec and docs publish no per-file limit, so this is
  ours: big enough for a manual, small enough to hash and upload in one request) and not empty;
- a glob matches at most :data:`MAX_GLOB_MATCHES` files and at least one; hidden files, config
  documents and ``environments.yaml`` are never matched (a listed one is an error).

A file is identified by the sha256 of its bytes: one content hash is one upload, attached wherever it
is listed.  :func:`file_token` is the ref token that stands for its id (``ref:File/<sha256>``).
"""

from __future__ import annotations

import glob
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path as FsPath
from pathlib import PurePosixPath
from typing import Any

from ci_deployer.findings import Finding

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_GLOB_MATCHES = 1000
FILE_KIND = "File"  # the ref-token kind of an uploaded document: "ref:File/<sha256>"
DOCUMENTS_KEY = "documents"  # the envelope block of a KnowledgeBase document
DOCUMENT_KEY = "document"  # {document: PATH} in a spec: the id of that file's upload

# Extension → (mimetype sent on upload, whether it is text a plan can diff).
TYPES: dict[str, tuple[str, bool]] = {
    ".txt": ("text/plain", True),
    ".md": ("text/markdown", True),
    ".csv": ("text/csv", True),
    ".tsv": ("text/tab-separated-values", True),
    ".yaml": ("application/yaml", True),
    ".json": ("application/json", True),
    ".xml": ("application/xml", True),
    ".log": ("text/plain", True),
    ".pdf": ("application/pdf", False),
    ".doc": ("application/msword", False),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", False),
}
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class DocumentFile:
    """One file to upload: where it is (root-relative, forward slashes) and what it holds."""

    path: str
    sha256: str
    size: int
    mimetype: str
    text: bool
    revision: str | None = None  # read from this git revision, not the working tree (a rollback)

    @property
    def name(self) -> str:
        """The file name sent on upload (Vapi's File ``name`` holds at most 40 characters)."""
        return short_name(PurePosixPath(self.path).name)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.size, "mimetype": self.mimetype}


def short_name(name: str, limit: int = 40) -> str:
    """``name`` cut to ``limit`` characters, keeping its extension (Vapi: File ``name`` maxLength 40)."""
    if len(name) <= limit:
        return name
    suffix = PurePosixPath(name).suffix[:10]
    return name[: limit - len(suffix)] + suffix


def file_token(sha256: str) -> str:
    """The ref token that stands for the id of the upload of this content."""
    return f"ref:{FILE_KIND}/{sha256}"


def file_type(path: str) -> tuple[str, bool] | None:
    """``(mimetype, is_text)`` for an accepted file name, else ``None``."""
    return TYPES.get(PurePosixPath(path).suffix.lower())


class DocumentProblem(Exception):
    """Why one listed file cannot be used: a code, a message and a hint (turned into a finding)."""

    def __init__(self, code: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


class DocumentReader:
    """Reads, checks and hashes document files under one config root (cached per path).

    ``excluded``: root-relative paths that are never documents (the config's own document files).
    """

    def __init__(self, root: FsPath, excluded: frozenset[str] = frozenset()) -> None:
        self.root = root
        self.root_real = root.resolve()
        self.excluded = excluded | {"environments.yaml"}
        self._cache: dict[str, DocumentFile | DocumentProblem] = {}
        self.by_hash: dict[str, DocumentFile] = {}

    # --- one file --------------------------------------------------------------------------------

    def file(self, rel: str) -> DocumentFile:
        """The checked file at ``rel`` (root-relative); :class:`DocumentProblem` when it is not usable."""
        key = rel.strip()
        if key not in self._cache:
            try:
                found: DocumentFile | DocumentProblem = self._read(key)
            except DocumentProblem as problem:
                found = problem
            self._cache[key] = found
            if isinstance(found, DocumentFile):
                self.by_hash.setdefault(found.sha256, found)
        cached = self._cache[key]
        if isinstance(cached, DocumentProblem):
            raise cached
        return cached

    def _resolve(self, rel: str) -> tuple[FsPath, str]:
        if not rel or "\x00" in rel:
            raise DocumentProblem(
                "E-DOCUMENT-PATH", "a document needs a file path", "write a path like knowledge/faq.md"
            )
        pure = PurePosixPath(rel.replace("\\", "/"))
        if pure.is_absolute() or ".." in pure.parts:
            raise DocumentProblem(
                "E-DOCUMENT-OUTSIDE",
                f"document {rel!r} leads outside the config folder",
                "document paths are relative to the --config folder and stay inside it (no '..', no absolute paths)",
            )
        try:
            real = (self.root / pure).resolve()
        except (OSError, RuntimeError, ValueError):  # symlink loops
            real = None
        if real is None or not real.is_relative_to(self.root_real):
            raise DocumentProblem(
                "E-DOCUMENT-OUTSIDE",
                f"document {rel!r} leads outside the config folder",
                "documents must live inside the --config folder (symlinks are resolved): copy the file in",
            )
        return real, pure.as_posix()

    def _read(self, rel: str) -> DocumentFile:
        real, norm = self._resolve(rel)
        if norm in self.excluded:
            raise DocumentProblem(
                "E-DOCUMENT-IS-CONFIG",
                f"{norm} is a ci-deployer config file, not a knowledge-base document",
                "list the files Vapi should index (knowledge/…/*.md); config documents are never uploaded",
            )
        if not real.exists():
            raise DocumentProblem(
                "E-DOCUMENT-MISSING",
                f"document {norm} not found",
                "check the path: it is relative to the --config folder, not to this document",
            )
        if not real.is_file():
            raise DocumentProblem(
                "E-DOCUMENT-NOT-A-FILE", f"document {norm} is not a regular file", "list files, or a glob like dir/*.md"
            )
        kind = file_type(norm)
        if kind is None:
            allowed = ", ".join(sorted(TYPES))
            raise DocumentProblem(
                "E-DOCUMENT-TYPE",
                f"document {norm} has a type Vapi does not index ({PurePosixPath(norm).suffix or 'no extension'})",
                f"Vapi knowledge bases take {allowed}: convert the file, or leave it out",
            )
        size = real.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DocumentProblem(
                "E-DOCUMENT-TOO-LARGE",
                f"document {norm} is {size:,} bytes, more than the {MAX_FILE_BYTES:,} a document may have",
                "split it into smaller files (Vapi indexes each file as a whole)",
            )
        if size == 0:
            raise DocumentProblem("E-DOCUMENT-EMPTY", f"document {norm} is empty", "Vapi cannot index an empty file")
        data = real.read_bytes()
        return DocumentFile(norm, hashlib.sha256(data).hexdigest(), len(data), kind[0], kind[1])

    def content(self, doc: DocumentFile) -> bytes:
        """The bytes to upload, read again; :class:`DocumentProblem` when the file changed since it was planned."""
        if doc.revision is not None:
            found = self.bytes_at(doc.revision, doc.path, doc.sha256)
            if found is None:
                raise DocumentProblem(
                    "E-DOCUMENT-GONE",
                    f"document {doc.path} (sha256:{doc.sha256[:12]}) is neither in the org nor in git at "
                    f"{doc.revision[:12]}",
                    "it cannot be restored: list the document again with its content, then apply",
                )
            return found
        real, _ = self._resolve(doc.path)
        try:
            data = real.read_bytes()
        except OSError as exc:
            raise DocumentProblem(
                "E-DOCUMENT-READ", f"cannot read document {doc.path}: {exc}", "check the file"
            ) from None
        if hashlib.sha256(data).hexdigest() != doc.sha256:
            raise DocumentProblem(
                "E-DOCUMENT-CHANGED",
                f"document {doc.path} changed since it was planned",
                "plan and apply again: what is uploaded is what the plan showed",
            )
        return data

    def text_at(self, revision: str, path: str, sha256: str) -> str | None:
        """The text ``path`` had at git ``revision`` when its hash is ``sha256`` (for a plan's diff),
        else ``None`` (no git, another repository, the content differs, or not UTF-8)."""
        data = self.bytes_at(revision, path, sha256)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def bytes_at(self, revision: str, path: str, sha256: str) -> bytes | None:
        """The bytes ``path`` had at git ``revision`` when they hash to ``sha256``, else ``None``."""
        try:
            prefix = subprocess.run(
                ["git", "rev-parse", "--show-prefix"],
                cwd=self.root,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
            if prefix.returncode != 0:
                return None
            shown = subprocess.run(
                ["git", "show", f"{revision}:{prefix.stdout.strip()}{path}"],
                cwd=self.root,
                capture_output=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        data: bytes = shown.stdout
        if shown.returncode != 0 or hashlib.sha256(data).hexdigest() != sha256:
            return None
        return data

    def current_text(self, doc: DocumentFile) -> str | None:
        """The text of a text document as it is now (``None`` for binaries or undecodable bytes)."""
        if not doc.text:
            return None
        try:
            return self.content(doc).decode("utf-8")
        except (DocumentProblem, UnicodeDecodeError):
            return None

    # --- a block -------------------------------------------------------------------------------------

    def expand(self, entry: str) -> list[str]:
        """The root-relative files a glob matches (sorted; hidden files and config files left out).

        A path without glob characters is returned as is (checked by :meth:`file`)."""
        pattern = entry.strip()
        if not any(c in _GLOB_CHARS for c in pattern):
            return [pattern]
        pure = PurePosixPath(pattern.replace("\\", "/"))
        if pure.is_absolute() or ".." in pure.parts:
            raise DocumentProblem(
                "E-DOCUMENT-OUTSIDE",
                f"{pattern!r} leads outside the config folder",
                "document paths are relative to the --config folder and stay inside it (no '..', no absolute paths)",
            )
        found = []
        # glob.glob with root_dir, not Path.glob: it takes '**' and '[…]' the same everywhere and
        # returns paths relative to the root without following the pattern out of it.
        for hit in glob.glob(pattern, root_dir=self.root, recursive=True):  # noqa: PTH207
            rel = PurePosixPath(hit.replace("\\", "/"))
            if any(part.startswith(".") for part in rel.parts) or rel.as_posix() in self.excluded:
                continue
            if (self.root / rel).is_file():
                found.append(rel.as_posix())
                if len(found) > MAX_GLOB_MATCHES:
                    raise DocumentProblem(
                        "E-DOCUMENT-GLOB-TOO-MANY",
                        f"{pattern!r} matches more than {MAX_GLOB_MATCHES} files",
                        "narrow the glob (each file is one upload)",
                    )
        if not found:
            raise DocumentProblem(
                "E-DOCUMENT-GLOB-EMPTY",
                f"{pattern!r} matches no file",
                "check the pattern: it is relative to the --config folder ('**' matches folders)",
            )
        return sorted(found)


def block_entries(raw: Any) -> list[tuple[int, str, bool]]:
    """``(index, path or pattern, is_glob_allowed)`` of a well-formed ``documents:`` block (the
    loader reports malformed entries)."""
    out: list[tuple[int, str, bool]] = []
    if not isinstance(raw, list):
        return out
    for i, item in enumerate(raw):
        if isinstance(item, str) and item.strip():
            out.append((i, item.strip(), True))
        elif isinstance(item, dict) and set(item) == {"file"} and str(item["file"]).strip():
            out.append((i, str(item["file"]).strip(), False))
    return out


def resolve_block(raw: Any, reader: DocumentReader, located: Any) -> tuple[list[DocumentFile], list[Finding]]:
    """The files a ``documents:`` block lists, in listing order, each once.

    ``located(index, code, message, hint, level)`` makes the finding for the block's ``index``-th entry."""
    files: list[DocumentFile] = []
    seen: set[str] = set()
    findings: list[Finding] = []
    for index, entry, globbing in block_entries(raw):
        try:
            paths = reader.expand(entry) if globbing else [entry]
        except DocumentProblem as problem:
            findings.append(located(index, problem.code, problem.message, problem.hint, "error"))
            continue
        usable, before = 0, len(findings)
        for path in paths:
            try:
                doc = reader.file(path)
            except DocumentProblem as problem:
                if globbing and problem.code == "E-DOCUMENT-TYPE" and path != entry:
                    continue  # a glob sweeps up files of other types: only what Vapi indexes is listed
                findings.append(located(index, problem.code, problem.message, problem.hint, "error"))
                continue
            usable += 1
            if doc.path in seen:
                continue
            seen.add(doc.path)
            files.append(doc)
        if paths and not usable and len(findings) == before:
            allowed = ", ".join(sorted(TYPES))
            findings.append(
                located(
                    index,
                    "E-DOCUMENT-GLOB-EMPTY",
                    f"{entry!r} matches no file of a type Vapi indexes",
                    f"Vapi knowledge bases take {allowed}",
                    "error",
                )
            )
    return files, findings
