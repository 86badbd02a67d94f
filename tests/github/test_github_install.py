"""The package installs the way the Dockerfile installs it (a fresh venv, non-editable, from a built
wheel) and its console script runs the action from outside the source tree, as the container does:
cwd = the workspace, which here even holds a decoy ``ci_deployer/`` folder that must not be imported.

Two installs: offline, with the dependencies borrowed from the dev venv; and from the image's hashed
locks (requirements/*.lock) exactly as the Dockerfile does it, which needs the package index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE_LOCK = ROOT / "requirements" / "image.lock"
BUILD_LOCK = ROOT / "requirements" / "build.lock"
# As in the Dockerfile: exact files (hashes), nothing unlocked (no deps), no source builds.
LOCKED_INSTALL = ("--require-hashes", "--no-deps", "--only-binary", ":all:")


def build_wheel(python: Path | str, dest: Path) -> Path:
    """The project's wheel, built from the working tree by ``python``'s hatchling, downloading nothing."""
    subprocess.run(
        [str(python), "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(dest), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    return next(dest.glob("ci_deployer-*.whl"))


def make_venv(path: Path, *, with_pip: bool) -> Path:
    """A fresh venv; returns its python."""
    command = [sys.executable, "-m", "venv", str(path)] + ([] if with_pip else ["--without-pip"])
    subprocess.run(command, check=True, timeout=120)
    return path / "bin" / "python"


def pip_from_index(python: Path, *args: str) -> None:
    """``pip install`` into ``python``'s venv from the package index; a clear failure when it is out of reach."""
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--retries", "1", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"pip install {' '.join(args)} failed. This test needs the package index (CI has it); offline, "
            f"deselect it with -m 'not network'.\n{result.stdout}{result.stderr}",
            pytrace=False,
        )


def action_run(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A workspace as the runner mounts it (config, decoy package) and the minimal environment of a
    ``validate`` step: the container's working directory and environment."""
    workspace = tmp_path / "github" / "workspace"
    example = ROOT / "examples" / "platform"
    if (example / "environments.yaml").is_file():
        shutil.copytree(example, workspace / "platform")
    else:
        (workspace / "platform").mkdir(parents=True)
        (workspace / "platform" / "environments.yaml").write_text(
            "apiVersion: ci-deployer/v1\nenvironments:\n  dev: {org: acme-dev, api: {url: embedded}}\n",
            encoding="utf-8",
        )
    decoy = workspace / "ci_deployer"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise SystemExit('the checkout shadowed the installed package')\n")
    temp = tmp_path / "github" / "runner_temp"
    temp.mkdir(parents=True)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/heads/main", "repository": {"default_branch": "main"}}))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONDONTWRITEBYTECODE": "1",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "acme/config",
        "GITHUB_RUN_ID": "1",
        "GITHUB_WORKSPACE": str(workspace),
        "RUNNER_TEMP": str(temp),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "INPUT_COMMAND": "validate",
        "INPUT_CONFIG_PATH": "platform",
        "INPUT_COMMENT": "true",
    }
    return workspace, env


def assert_the_action_validates(venv: Path, tmp_path: Path) -> None:
    """The venv's ``ci-deployer-action`` validates the workspace's config, importing the installed package."""
    workspace, env = action_run(tmp_path)
    python = venv / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import ci_deployer, jinja2; print(ci_deployer.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where

    result = subprocess.run(
        [str(venv / "bin" / "ci-deployer-action")],
        check=False,
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outputs = (tmp_path / "output").read_text(encoding="utf-8")
    assert "exit_code<<" in outputs and "\n0\n" in outputs
    assert "ci-deployer validate" in (tmp_path / "summary").read_text(encoding="utf-8")  # templates were packaged
    assert not list(workspace.rglob("__pycache__"))


@pytest.mark.slow
def test_wheel_install_runs_the_entrypoint_outside_the_source_tree(tmp_path: Path) -> None:
    wheel = build_wheel(sys.executable, tmp_path / "wheels")
    venv = tmp_path / "venv"
    python = make_venv(venv, with_pip=False)
    # Offline: the dependencies come from the dev venv's site-packages (a .pth line adds the folder,
    # without processing its .pth files, so the dev venv's editable hook stays out).
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    )
    (site / "zz_dev_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert_the_action_validates(venv, tmp_path)


@pytest.mark.slow
@pytest.mark.network
def test_the_image_install_from_the_locks_runs_both_console_scripts(tmp_path: Path) -> None:
    # The Dockerfile's build stage: hatchling from build.lock, then the wheel without build isolation.
    builder = make_venv(tmp_path / "build", with_pip=True)
    pip_from_index(builder, *LOCKED_INSTALL, "-r", str(BUILD_LOCK))
    wheel = build_wheel(builder, tmp_path / "wheels")
    # Its action stage: image.lock, then the wheel with --no-deps, and pip check finds nothing missing.
    venv = tmp_path / "venv"
    python = make_venv(venv, with_pip=True)
    pip_from_index(python, *LOCKED_INSTALL, "-r", str(IMAGE_LOCK))
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    pip_check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True, timeout=60,
                               check=False)  # fmt: skip
    assert pip_check.returncode == 0, f"the lock misses a dependency of the wheel:\n{pip_check.stdout}"

    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    shown = subprocess.run([str(venv / "bin" / "ci-deployer"), "--version"], cwd=tmp_path, env={"PATH": ""},
                           capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert (shown.returncode, shown.stdout.strip()) == (0, f"ci-deployer {version}"), shown.stderr
    assert_the_action_validates(venv, tmp_path)
