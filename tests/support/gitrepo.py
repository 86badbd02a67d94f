"""A real git repository in a temporary folder, driven through the ``git`` command line.

The fake GitHub answers commits, compares and pull-request files from it, and the workflow
interpreter's ``actions/checkout`` fetches from it, so what the product reads is real history:
merges are ``git merge --no-ff`` merge commits, a PR's test merge ``refs/pull/N/merge`` is a real
merge of head into base.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ZERO_SHA = "0" * 40


def git(root: Path, *args: str, env: Mapping[str, str] | None = None, input: bytes | None = None) -> str:
    """Run ``git`` in ``root`` with a fixed identity; returns stdout stripped (raises on failure)."""
    out = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        capture_output=True,
        input=input,
        check=False,
        env={**os.environ, **env} if env else None,
    )
    if out.returncode != 0:
        raise subprocess.CalledProcessError(out.returncode, ["git", *args], out.stdout, out.stderr)
    return out.stdout.decode("utf-8", "replace").strip()


@dataclass(frozen=True)
class Identity:
    """A commit author: name and email (the fake maps emails to GitHub logins)."""

    name: str
    email: str


@dataclass(frozen=True)
class FileChange:
    """One file of a diff, named as GitHub's compare and PR files list it."""

    filename: str
    status: str  # added | removed | modified | renamed
    previous_filename: str | None
    additions: int
    deletions: int


@dataclass(frozen=True)
class CommitInfo:
    """What ``git show`` knows about a commit."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Identity
    author_date: str  # ISO 8601, UTC
    committer: Identity
    committer_date: str
    message: str


_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied", "T": "changed"}


class GitRepo:
    """A non-bare repository (its working tree is used for commits and merges), one operation at a time."""

    def __init__(self, root: Path, default_branch: str = "main") -> None:
        self.root = root
        self.default_branch = default_branch
        self.lock = threading.RLock()
        root.mkdir(parents=True, exist_ok=True)
        if not (root / ".git").exists():
            self.git("init", "-q", "-b", default_branch)
            # actions/checkout fetches a single commit by sha (fetch-depth: 1).
            self.git("config", "uploadpack.allowAnySHA1InWant", "true")
            self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, env: Mapping[str, str] | None = None, input: bytes | None = None) -> str:
        """Run a git command in the repository."""
        with self.lock:
            return git(self.root, *args, env=env, input=input)

    # -- reading ---------------------------------------------------------------------------------------

    def resolve(self, ref: str) -> str | None:
        """The commit sha ``ref`` (sha, branch, tag, refs/…) names, or None."""
        if not ref or ref.startswith("-"):
            return None
        try:
            return self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except subprocess.CalledProcessError:
            return None

    def branch_head(self, branch: str) -> str | None:
        """The tip of ``refs/heads/<branch>``."""
        return self.resolve(f"refs/heads/{branch}")

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True when ``ancestor`` is reachable from ``descendant`` (a commit is its own ancestor)."""
        try:
            self.git("merge-base", "--is-ancestor", ancestor, descendant)
        except subprocess.CalledProcessError:
            return False
        return True

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of two commits."""
        try:
            return self.git("merge-base", a, b) or None
        except subprocess.CalledProcessError:
            return None

    def commits_between(self, base: str | None, head: str) -> list[str]:
        """Commits reachable from ``head`` and not from ``base``, oldest first (``base..head``)."""
        spec = f"{base}..{head}" if base else head
        out = self.git("rev-list", "--reverse", "--topo-order", spec)
        return out.split() if out else []

    def changed_files(self, base: str, head: str) -> list[FileChange]:
        """Files that differ between two commits (renames detected), in path order."""
        if base == head:
            return []
        counts: dict[str, tuple[int, int]] = {}
        for line in self.git("diff", "--numstat", "-M", "-z", base, head).split("\0"):
            parts = line.split("\t")
            if len(parts) == 3 and parts[2]:
                added, deleted = (int(x) if x.isdigit() else 0 for x in parts[:2])
                counts[parts[2]] = (added, deleted)
        changes: list[FileChange] = []
        fields = self.git("diff", "--name-status", "-M", "-z", base, head).split("\0")
        i = 0
        while i < len(fields) and fields[i]:
            code = fields[i][0]
            if code in "RC":
                old, new = fields[i + 1], fields[i + 2]
                i += 3
            else:
                old, new = None, fields[i + 1]
                i += 2
            added, deleted = counts.get(new, (0, 0))
            changes.append(
                FileChange(new, _STATUS.get(code, "modified"), old if code in "RC" else None, added, deleted)
            )
        return sorted(changes, key=lambda c: c.filename)

    def commit_info(self, sha: str) -> CommitInfo:
        """Author, committer, parents, tree and message of a commit."""
        fmt = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
        fields = self.git("show", "-s", f"--format={fmt}", "--date=iso-strict", sha).split("\0")
        return CommitInfo(
            sha=fields[0],
            tree=fields[1],
            parents=tuple(fields[2].split()),
            author=Identity(fields[3], fields[4]),
            author_date=fields[5],
            committer=Identity(fields[6], fields[7]),
            committer_date=fields[8],
            message=fields[9].strip(),
        )

    def read_file(self, sha: str, path: str) -> bytes | None:
        """A file's bytes at a commit (None when absent)."""
        with self.lock:
            out = subprocess.run(["git", "show", f"{sha}:{path}"], cwd=self.root, capture_output=True, check=False)
        return out.stdout if out.returncode == 0 else None

    # -- writing ---------------------------------------------------------------------------------------

    def commit(
        self,
        branch: str,
        files: Mapping[str, str | bytes | None],
        message: str,
        author: Identity,
        *,
        start: str | None = None,
    ) -> str:
        """Commit ``files`` (path → content; None deletes) on ``branch`` (created at ``start``, default
        the default branch, when missing); returns the new sha."""
        with self.lock:
            if self.branch_head(branch) is None:
                base = start or self.branch_head(self.default_branch)
                if base is None:  # the very first commit of the repository
                    self.git("checkout", "-q", "--orphan", branch)
                else:
                    self.git("checkout", "-q", "-B", branch, base)
            else:
                self.git("checkout", "-q", "--force", branch)
            for name, content in files.items():
                path = self.root / name
                if content is None:
                    if path.exists():
                        self.git("rm", "-q", "-r", "--", name)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    path.write_bytes(content)
                else:
                    path.write_text(content, encoding="utf-8")
            self.git("add", "-A")
            self.git("commit", "-q", "--allow-empty", "-m", message, env=_identity_env(author))
            return self.git("rev-parse", "HEAD")

    def merge(self, into: str, head: str, message: str, author: Identity) -> str:
        """``git merge --no-ff`` of commit ``head`` into branch ``into``; returns the merge commit's sha."""
        with self.lock:
            self.git("checkout", "-q", "--force", into)
            self.git("merge", "-q", "--no-ff", "--no-edit", "-m", message, head, env=_identity_env(author))
            return self.git("rev-parse", "HEAD")

    def test_merge(self, base: str, head: str) -> str | None:
        """A merge commit of ``head`` into ``base`` that no branch points at (GitHub's refs/pull/N/merge);
        None when they conflict."""
        try:
            tree = self.git("merge-tree", "--write-tree", base, head).split()[0]
        except subprocess.CalledProcessError:
            return None
        github = Identity("GitHub", "noreply@github.com")
        return self.git(
            "commit-tree", tree, "-p", base, "-p", head, "-m", f"Merge {head} into {base}", env=_identity_env(github)
        )

    def update_ref(self, ref: str, sha: str) -> None:
        """Point ``ref`` at ``sha``."""
        self.git("update-ref", ref, sha)


def _identity_env(who: Identity) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": who.name,
        "GIT_AUTHOR_EMAIL": who.email,
        "GIT_COMMITTER_NAME": who.name,
        "GIT_COMMITTER_EMAIL": who.email,
    }
