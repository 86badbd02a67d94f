#!/usr/bin/env python3
"""Lock the action image's Python packages: requirements/image.lock and requirements/build.lock.

Usage::

    python scripts/lock_image.py             # after editing dependencies: keeps the pins that still fit
    python scripts/lock_image.py --upgrade   # moves every pin to the newest release
    python scripts/lock_image.py --check     # offline: exit 1 when a lock no longer fits pyproject.toml

``image.lock`` pins pyproject.toml's ``[project].dependencies`` and the extras the image installs
(:data:`IMAGE_EXTRAS`: the secret managers' ``vault``, ``aws`` and ``gcp``), and everything they pull in;
``build.lock`` pins ``[build-system].requires`` (hatchling and its imports), which the Dockerfile's
build stage installs so that building the project's wheel (``--no-build-isolation --no-index``)
downloads nothing unpinned.  Both are resolved for the Dockerfile's Python (read from the tag of its
``FROM`` line) on Linux, wheels only, with the sha256 of every file of each pinned version, and the
Dockerfile installs them with ``--require-hashes --no-deps --only-binary :all:``.

After locking, pip downloads every pinned wheel for linux x86_64 and aarch64 with
``--require-hashes``: a release without a wheel for one of them fails here rather than in a release
build (``--no-verify`` skips this step, which needs the package index like the locking itself).

Why uv (``uv pip compile --generate-hashes``, a dev dependency): it resolves for a Python and platform
other than the one it runs in (a developer's venv may be 3.11, the image is 3.12), it records the
hashes of every file of each pinned version without downloading them, and it is one self-contained
wheel; pip-compile resolves for the interpreter that runs it and depends on pip's internals.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"
PYPROJECT = REPO / "pyproject.toml"
IMAGE_LOCK = REPO / "requirements" / "image.lock"
BUILD_LOCK = REPO / "requirements" / "build.lock"

# The image's base: an official Python image pinned by digest; its tag gives the Python version.
BASE_RE = re.compile(r"^FROM\s+python:(?P<python>\d+\.\d+)(?:\.\d+)?-\S+@sha256:[0-9a-f]{64}\b", re.MULTILINE)
PIN_RE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)$")
HASH_RE = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")
PYTHON_LINE = "# python-version: "
# Platforms the image is built for (release.yml); manylinux tags as wheels spell them, newest first.
ARCHES = ("x86_64", "aarch64")
# Extras of pyproject.toml the image installs: every secret manager (ci_deployer/secrets/).
IMAGE_EXTRAS = ("vault", "aws", "gcp")


@dataclass(frozen=True)
class Pin:
    """One locked distribution: ``name==version`` and the hashes pip accepts for it."""

    name: str
    version: str
    hashes: tuple[str, ...]


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def image_python(dockerfile: str) -> str:
    """``"3.12"`` for ``FROM python:3.12.15-slim-bookworm@sha256:…``; the base must be pinned by digest."""
    match = BASE_RE.search(dockerfile)
    if match is None:
        raise ValueError("Dockerfile: no `FROM python:X.Y.Z-…@sha256:<digest>` line")
    return match["python"]


def read_lock(text: str) -> tuple[str | None, dict[str, Pin]]:
    """The ``# python-version:`` of a lock and its pins by canonical name (continuation lines joined)."""
    python = None
    for line in text.splitlines():
        if line.startswith(PYTHON_LINE):
            python = line.removeprefix(PYTHON_LINE).strip()
    logical = re.sub(r"\\\n", " ", text)
    pins: dict[str, Pin] = {}
    for raw in logical.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement, *options = line.split()
        match = PIN_RE.match(requirement)
        if match is None:
            raise ValueError(f"not an exact pin: {requirement!r}")
        hashes = tuple(option for option in options if HASH_RE.match(option))
        pins[canonical(match["name"])] = Pin(match["name"], match["version"], hashes)
    return python, pins


def lock_problems(requirements: list[str], lock_text: str, python: str, what: str) -> list[str]:
    """Why a lock does not fit its requirements: missing names, versions outside a range, pins without
    hashes, another Python.  Offline: only the declared requirements are checked; the transitive ones
    are checked by installing the lock (``pip check`` in the Dockerfile and the install test)."""
    from packaging.requirements import Requirement  # dev dependency, needed only here

    environment = {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "platform_machine": "x86_64",
    }
    locked_python, pins = read_lock(lock_text)
    problems = []
    if locked_python != python:
        problems.append(f"{what} is locked for Python {locked_python}, the Dockerfile's base is Python {python}")
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        pin = pins.get(canonical(requirement.name))
        if pin is None:
            problems.append(f"{what} has no pin for {line!r}")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{what} pins {pin.name}=={pin.version}, outside {line!r}")
    problems += [f"{what} pins {pin.name}=={pin.version} without a hash" for pin in pins.values() if not pin.hashes]
    return problems


def image_requirements(pyproject: dict[str, object]) -> list[str]:
    """What the image installs: ``[project].dependencies`` and those of :data:`IMAGE_EXTRAS`
    (references to the project's own extras left out: they are among the extras listed)."""
    project = pyproject["project"]
    assert isinstance(project, dict)
    extras = project.get("optional-dependencies", {})
    requirements = list(project["dependencies"])
    for extra in IMAGE_EXTRAS:
        requirements += [r for r in extras.get(extra, []) if canonical(re.split(r"[\[<>=!~; ]", r)[0]) != "ci-deployer"]
    return requirements


def check(repo: Path = REPO) -> list[str]:
    """Every problem of both locks against pyproject.toml and the Dockerfile (no network)."""
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    python = image_python((repo / "Dockerfile").read_text(encoding="utf-8"))
    locks = (
        (image_requirements(pyproject), IMAGE_LOCK.relative_to(REPO)),
        (pyproject["build-system"]["requires"], BUILD_LOCK.relative_to(REPO)),
    )
    problems = []
    for requirements, lock in locks:
        if not (repo / lock).is_file():
            problems.append(f"{lock} is missing")
            continue
        problems += lock_problems(requirements, (repo / lock).read_text(encoding="utf-8"), python, str(lock))
    return problems


def _uv() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        sys.exit("error: uv is not installed; pip install -e '.[dev]'")
    return str(find_uv_bin())


def compile_lock(
    source: str, lock: Path, python: str, title: str, *, stdin: str | None, upgrade: bool, extras: tuple[str, ...] = ()
) -> None:
    """Resolve ``source`` (a file, or ``-`` with ``stdin``) into ``lock`` with uv, then put our header on it.
    uv keeps the pins already in ``lock`` that still fit unless ``upgrade``."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    command = [
        _uv(), "pip", "compile", source, "--quiet", "--no-header", "--generate-hashes",
        "--python-version", python, "--python-platform", "x86_64-unknown-linux-gnu", "--only-binary", ":all:",
        "--output-file", str(lock),
    ]  # fmt: skip
    for extra in extras:
        command += ["--extra", extra]
    if upgrade:
        command.append("--upgrade")
    subprocess.run(command, input=stdin, text=True, check=True, cwd=REPO)
    body = lock.read_text(encoding="utf-8")
    header = (
        f"# {title},\n# for CPython {python} on Linux: x86_64 and aarch64 wheels.\n"
        "# Generated by `python scripts/lock_image.py` (uv pip compile --generate-hashes); do not edit by hand.\n"
        f"{PYTHON_LINE}{python}\n"
    )
    lock.write_text(header + body, encoding="utf-8")


def platforms(arch: str) -> list[str]:
    """pip's ``--platform`` values for a manylinux wheel of ``arch`` on bookworm (glibc 2.36)."""
    oldest = 17 if arch == "aarch64" else 5  # aarch64 wheels start at manylinux2014 (glibc 2.17)
    tags = [f"manylinux_2_{minor}_{arch}" for minor in range(36, oldest - 1, -1)]
    legacy = {"x86_64": ["manylinux2014", "manylinux2010", "manylinux1"], "aarch64": ["manylinux2014"]}
    return tags + [f"{name}_{arch}" for name in legacy[arch]]


def verify(lock: Path, python: str) -> None:
    """Download every pin of ``lock`` as a wheel for each of ARCHES, checking its hash (needs the index)."""
    abi = "cp" + python.replace(".", "")
    for arch in ARCHES:
        with tempfile.TemporaryDirectory() as folder:
            command = [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
                "--only-binary", ":all:", "--implementation", "cp", "--python-version", python,
                "--abi", abi, "--abi", "abi3", "--abi", "none", "--dest", folder, "-r", str(lock),
            ]  # fmt: skip
            for platform in platforms(arch):
                command += ["--platform", platform]
            subprocess.run(command, check=True)
        print(f"{lock.relative_to(REPO)}: every pin has a wheel for {arch} with a locked hash")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="move every pin to the newest release")
    parser.add_argument("--check", action="store_true", help="only check the locks against pyproject.toml (offline)")
    parser.add_argument("--no-verify", action="store_true", help="skip downloading the wheels of both platforms")
    args = parser.parse_args(argv)
    if not args.check:
        pyproject = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
        python = image_python(DOCKERFILE.read_text(encoding="utf-8"))
        compile_lock(
            "pyproject.toml", IMAGE_LOCK, python,
            "Runtime packages of the ci-deployer image: pyproject.toml's [project].dependencies, the extras "
            f"{', '.join(IMAGE_EXTRAS)} and their needs",
            stdin=None, upgrade=args.upgrade, extras=IMAGE_EXTRAS,
        )  # fmt: skip
        compile_lock(
            "-", BUILD_LOCK, python,
            "Build backend of the image's ci-deployer wheel: pyproject.toml's [build-system].requires and its needs",
            stdin="\n".join(pyproject["build-system"]["requires"]) + "\n", upgrade=args.upgrade,
        )  # fmt: skip
        if not args.no_verify:
            for lock in (IMAGE_LOCK, BUILD_LOCK):
                verify(lock, python)
    problems = check()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print("run: python scripts/lock_image.py", file=sys.stderr)
        return 1
    print("the locks fit pyproject.toml and the Dockerfile's Python")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
