"""Where files are, as readers of a report need them: annotations and editors resolve paths against
the workspace (the repository checkout in Actions, the working directory elsewhere), while the
config's own paths are relative to its root (``--config``)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath


def config_prefix(root: Path, workspace: Path | None = None) -> str:
    """The config root relative to ``workspace`` (default: the working directory), ``""`` when it is
    the workspace itself or lies outside it."""
    base = (workspace or Path()).resolve()
    try:
        rel = root.resolve().relative_to(base)
    except (ValueError, OSError):
        return ""
    text = rel.as_posix()
    return "" if text == "." else text


def located(path: str | None, prefix: str) -> str | None:
    """A config-relative path made workspace-relative (absolute paths stay as they are)."""
    if not path or not prefix or PurePosixPath(path).is_absolute():
        return path
    return f"{prefix.rstrip('/')}/{path}"
