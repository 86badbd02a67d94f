from __future__ import annotations

import pytest

from ci_deployer import cli, error_handler, redact
from ci_deployer.errors import ApiError, DeployerError, DriftFound


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for name in cli.COMMANDS:
        with pytest.raises(SystemExit) as exc:
            cli.main([name, "--help"])
        assert exc.value.code == 0
        assert "--format" in capsys.readouterr().out or name == "emulator"


def test_exit_codes_are_decided_in_one_place() -> None:
    assert error_handler.exit_code_for(DriftFound("drift")) == error_handler.EXIT_DRIFT
    assert error_handler.exit_code_for(ApiError("GET", "/assistant", 500, "boom")) == error_handler.EXIT_FAILED
    assert error_handler.exit_code_for(DeployerError("x")) == error_handler.EXIT_FAILED


def test_internal_error_writes_crash_log_without_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path))
    redact.register("sk-live-supersecret")

    def boom(args: object, settings: object) -> int:
        raise ValueError("token sk-live-supersecret broke")

    from ci_deployer.commands import plan

    monkeypatch.setattr(plan, "run", boom)
    code = cli.main(["plan", "--env", "dev"])
    err = capsys.readouterr().err
    assert code == error_handler.EXIT_INTERNAL
    assert "internal error: ValueError" in err
    logs = list(tmp_path.glob("ci-deployer-crash-*.log"))  # type: ignore[attr-defined]
    assert len(logs) == 1
    text = logs[0].read_text()
    assert "ValueError" in text
    assert "sk-live-supersecret" not in text
    assert "***" in text


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["plan", "--env", "dev", "--detailed-exitcode", "--bogus"], "unrecognized arguments: --bogus"),
        (["plan", "--detailed-exitcode"], "required: --env"),
        (["plan", "--env", "dev", "--format", "yaml"], "invalid choice: 'yaml'"),
        (["emulator", "serve", "--port", "99999"], "--port: must be between 0 and 65535 (got 99999)"),
        (["emulator", "serve", "--latency-ms", "-100"], "--latency-ms: must be 0 or more (got -100)"),
        ([], "required: COMMAND"),
    ],
)
def test_a_usage_error_exits_1_never_2_which_means_changes(argv: list[str], fragment: str) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "ci_deployer", *argv], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1, done.stderr
    assert fragment in done.stderr and "hint: see `ci-deployer" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_usage_error_with_format_json_is_the_documented_error_object() -> None:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "ci_deployer", "plan", "--format", "json", "--bogus"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert error["ok"] is False and error["failure_reason"] == "invalid-config"
    assert "--env" in error["error"]  # the first problem argparse meets: the required --env


def test_findings_that_stop_plan_name_files_as_validate_does(tmp_path: object) -> None:
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    work = Path(str(tmp_path))
    root = work / "platform"
    examples = Path(__file__).parents[1] / "examples" / "platform"
    shutil.copytree(examples, root, ignore=shutil.ignore_patterns(".ci-*"))
    (root / "tools" / "aa-copy.yaml").write_text(
        "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: lookup-order}\nspec: {type: endCall}\n",
        encoding="utf-8",
    )
    outputs = []
    for argv in (["validate", "--config", "platform"], ["plan", "--config", "platform", "--env", "dev"]):
        done = subprocess.run(
            [sys.executable, "-m", "ci_deployer", *argv, "--format", "github"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 1
        outputs.append(done.stdout + done.stderr)
    for out in outputs:  # workspace-relative, as annotations need
        assert "::error file=platform/tools/lookup-order.yaml,line=5,col=3,title=E-DUP-SLUG::" in out, out
