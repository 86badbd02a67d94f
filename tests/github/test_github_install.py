"""The package installs the way the Dockerfile installs it (a fresh venv, non-editable, from a built
wheel) and its console script runs the action from outside the source tree, as the container does:
cwd = the workspace, which here even holds a decoy ``ci_deployer/`` folder that must not be imported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_install_runs_the_entrypoint_outside_the_source_tree(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    wheel = next(wheels.glob("ci_deployer-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
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
