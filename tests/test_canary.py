"""Canary: planted secrets never come out — in any form, from any command, in any byte written.

Distinctive secrets (punctuated ones, exactly-8-character ones, one read from a file, the API token)
are planted in the environment; real ``ci-deployer`` processes run against an emulator served on
loopback — validate, plan, apply (a success, then failures where the emulator echoes every request
body back, in several shapes, in its error), drift and export — and every byte they print (stdout,
stderr) or write (the state and run folders, the plan files, the export) is searched for every form
of every secret: raw, JSON-escaped (once and twice), URL-encoded, base64 (three alignments, standard
and URL-safe, of the raw and the JSON-escaped value), any case, and any 8-character prefix of those.

Runs execute in order against one config and one emulator (the list is :data:`RUNS`): besides the
CLI's commands they include an apply interrupted by SIGTERM mid-way (latency on the emulator) and its
rerun, and the action's entrypoint (``ci-deployer-action``, plan and apply, as the runner starts the
container). The env's HMAC key (``secrets.hmacKey``) is planted too: key material must not appear
anywhere either.  Everything printed and written is scanned the same way.

Secret managers are planted too, each behind its real protocol peer on loopback and reached with
the identity CI gives (``tests/support/secret_peers.py``): a real OpenBao (KV v2) logged into with
the job's GitHub OIDC token (JWT auth), AWS Secrets Manager through moto's server with the role
assumed from that token (``AssumeRoleWithWebIdentity``), and GCP Secret Manager's REST API with an
access token.  Their credentials (the OIDC request token, every OIDC token issued, the Google access
token) are canaries as well, and ``validate --check-secrets`` is one of the runs.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest

from ci_deployer.emulator import Emulator, ServerHandle, serve
from support.secret_peers import GoogleCloud, OidcIssuer, aws_client, moto_server, openbao

CLI = Path(sys.executable).with_name("ci-deployer")
API_TOKEN = "tok-canary-dev-5f1e2d3c4b5a6978"
FILE_SECRET = "file+canary/secret=value"
PLANTED = {
    "ORDERS_API_TOKEN": "p%2B:/\"'\\ab&x=",  # URL escapes, quotes, a backslash, & and =
    "TWILIO_AUTH_TOKEN": "Q7v#Lm2x",  # exactly 8 characters
    "HOOK_SECRET": "Hk8&=+/Z",  # exactly 8, with base64 and URL metacharacters
    "ZENDESK_TOKEN": "zd-canary-5f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "VAPI_TOKEN_DEV": API_TOKEN,
    "CI_DEPLOYER_HMAC_KEY_DEV": "hmac-key-canary-8c1f2e3d4b5a6978",
}
# In the secret managers (the dev env's secrets block configures all three).
VAULT_SECRET = "vault+canary/Q7#=&x\\y"
AWS_JSON_SECRET = 'aws-canary "json" key=1'
AWS_WHOLE_SECRET = "aws-canary-whole-0f1e2d3c"
GCP_SECRET = "gcp-canary:payload/+=="
GOOGLE_TOKEN = "ya29.canary-google-access-token-8c7b6a"
STORED = [VAULT_SECRET, AWS_JSON_SECRET, AWS_WHOLE_SECRET, GCP_SECRET]
SECRETS = [*PLANTED.values(), FILE_SECRET, *STORED, GOOGLE_TOKEN]
CREDENTIALS = ("VAPI_TOKEN_DEV", "CI_DEPLOYER_HMAC_KEY_DEV")  # the deployer's own: never a placeholder


def needles(secret: str) -> set[str]:
    """Lower-cased strings whose presence in output means ``secret`` leaked (built here from first
    principles, not with ci_deployer.redact.forms, so the test does not grade its own homework)."""
    json1 = json.dumps(secret)[1:-1]
    json2 = json.dumps(json.dumps(secret))[1:-1]
    texts = {secret, json1, json2, json.dumps(secret, ensure_ascii=False)[1:-1]}
    forms = set(texts)
    for text in texts:
        forms |= {quote(text, safe=""), quote(text), quote_plus(text)}
        data = text.encode()
        for skip in (0, 1, 2):
            rest = data[skip:]
            fixed = len(rest) * 8 // 6  # characters no neighbouring byte can change
            for encode in (base64.b64encode, base64.urlsafe_b64encode):
                forms.add(encode(rest).decode()[:fixed])
    out = set()
    for form in forms:
        if len(form) >= 8:
            out |= {form.lower(), form[:8].lower()}  # whole, and cut short
    return out


NEEDLES = {needle: secret for secret in SECRETS for needle in needles(secret)}


@dataclass
class Context:
    """What the runs share: the config root, the emulator and where artifacts go."""

    root: Path
    emulator: Emulator
    url: str
    export_dir: Path
    out_dir: Path  # plan files (outside the config: a JSON file there would be read as a document)
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (what, text) for the scan


@dataclass
class Run:
    """One ``ci-deployer`` invocation: its arguments, the exit codes that are fine, and a set-up step."""

    name: str
    args: Callable[[Context], list[str]]
    exit_codes: tuple[int, ...] = (0,)
    before: Callable[[Context], None] | None = None
    interrupt_after: int | None = None  # SIGTERM once the apply journal holds this many writes
    action: dict[str, str] | None = None  # run the action's entrypoint with these inputs instead of the CLI


def _add_tool(ctx: Context) -> None:
    """A new tool whose create (POST) body carries every secret, so an echoing API repeats them all."""
    headers = "\n".join(f"      X-{i}: secrets://{name}" for i, name in enumerate(PLANTED) if name not in CREDENTIALS)
    (ctx.root / "tools" / "echoed.yaml").write_text(
        TOOL.format(slug="echoed", fn="echoed")
        + headers
        + "\n      X-File: secrets://file/run-secrets/hook.txt\n"
        + "      X-Vault: secrets://vault/canary/orders#token\n"
        + "      X-Aws: secrets://aws/canary/orders#token\n"
        + "      X-Gcp: secrets://gcp/canary-token\n",
        encoding="utf-8",
    )


def _echo(ctx: Context) -> None:
    _add_tool(ctx)
    ctx.emulator.faults.echo_writes = True


def _no_echo(ctx: Context) -> None:
    ctx.emulator.faults.echo_writes = False


def _many_slow(ctx: Context) -> None:
    """Thirty more tools carrying the secrets, and latency on writes: an apply to interrupt."""
    _no_echo(ctx)
    for i in range(30):
        (ctx.root / "tools" / f"bulk-{i}.yaml").write_text(
            TOOL.format(slug=f"bulk-{i}", fn=f"bulk_{i}") + "      X-Api-Key: secrets://ORDERS_API_TOKEN\n",
            encoding="utf-8",
        )
    ctx.emulator.faults.latency_ms = 80
    ctx.emulator.faults.only_methods = frozenset({"POST"})


def _fast(ctx: Context) -> None:
    ctx.emulator.faults.latency_ms = 0


RUNS: list[Run] = [
    Run("validate", lambda c: ["validate"]),
    Run(
        "plan",
        lambda c: [
            "plan",
            "--env",
            "dev",
            "--out",
            str(c.out_dir / "plan.json"),
            "--markdown",
            str(c.out_dir / "plan.md"),
        ],
    ),
    Run("apply", lambda c: ["apply", "--env", "dev", "--auto-approve"]),
    Run("apply-echoed-text", lambda c: ["apply", "--env", "dev", "--auto-approve"], (1,), before=_echo),
    Run("apply-echoed-json", lambda c: ["apply", "--env", "dev", "--auto-approve", "--format", "json"], (1,)),
    Run("apply-echoed-github", lambda c: ["apply", "--env", "dev", "--auto-approve", "--format", "github"], (1,)),
    Run("plan-after-failure", lambda c: ["plan", "--env", "dev", "--format", "json"], (0,), before=_no_echo),
    Run("drift", lambda c: ["drift", "--env", "dev"], (0, 3)),
    Run("export", lambda c: ["export", "--env", "dev", "--out", str(c.export_dir)]),
    Run("apply-interrupted", lambda c: ["apply", "--env", "dev", "--auto-approve"], (1,), _many_slow, 3),
    Run("apply-rerun", lambda c: ["apply", "--env", "dev", "--auto-approve", "--format", "json"], (0,), _fast),
    Run("validate-check-secrets", lambda c: ["validate", "--env", "dev", "--check-secrets"]),
    Run("check-secrets-json", lambda c: ["validate", "--env", "dev", "--check-secrets", "--format", "json"]),
    Run("action-plan", lambda c: [], action={"COMMAND": "plan"}),
    Run("action-apply", lambda c: [], action={"COMMAND": "apply"}),
]

TOOL = """\
apiVersion: ci-deployer/v1
kind: Tool
metadata:
  name: {slug}
spec:
  type: function
  function:
    name: {fn}
    description: Look an order up
  server:
    url: https://orders.example.com/vapi
    headers:
"""


@dataclass
class Stores:
    """The secret managers' peers and the variables that reach them (as a job with id-token: write)."""

    vault: str
    aws: str
    gcp: str
    environ: dict[str, str]
    issuer: OidcIssuer


def write_config(root: Path, url: str, stores: Stores) -> None:
    (root / "tools").mkdir(parents=True)
    (root / "assistants").mkdir()
    (root / "run-secrets").mkdir()
    (root / "run-secrets" / "hook.txt").write_text(FILE_SECRET + "\n", encoding="utf-8")
    (root / "environments.yaml").write_text(
        f"""\
apiVersion: ci-deployer/v1
environments:
  dev:
    org: acme-dev
    api: {{url: "{url}", token: secrets://VAPI_TOKEN_DEV}}
    secrets:
      fileRoot: run-secrets
      hmacKey: secrets://CI_DEPLOYER_HMAC_KEY_DEV
      vault: {{address: "{stores.vault}", auth: {{method: jwt, role: ci-dev}}}}
      aws: {{region: us-east-1, roleArn: "arn:aws:iam::123456789012:role/ci-dev", endpoint: "{stores.aws}"}}
      gcp: {{project: acme-dev, endpoint: "{stores.gcp}"}}
""",
        encoding="utf-8",
    )
    (root / "tools" / "orders.yaml").write_text(
        TOOL.format(slug="orders", fn="lookup_order")
        + "      X-Api-Key: secrets://ORDERS_API_TOKEN\n"
        + '      Authorization: "Bearer secrets://ZENDESK_TOKEN"\n',
        encoding="utf-8",
    )
    (root / "tools" / "twilio.yaml").write_text(
        TOOL.format(slug="twilio", fn="send_sms")
        + "      X-Twilio: secrets://TWILIO_AUTH_TOKEN\n"
        + '      X-Hook: "sig=secrets://HOOK_SECRET;v=1"\n'
        + "      X-File: secrets://file/run-secrets/hook.txt\n",
        encoding="utf-8",
    )
    (root / "tools" / "stores.yaml").write_text(
        TOOL.format(slug="stores", fn="stored")
        + "      X-Vault: secrets://vault/canary/orders#token\n"
        + '      X-Aws: "k=secrets://aws/canary/orders#token;"\n'
        + "      X-Aws-Whole: secrets://aws/canary/plain\n"
        + "      X-Gcp: secrets://gcp/canary-token\n",
        encoding="utf-8",
    )
    (root / "assistants" / "agent.yaml").write_text(
        """\
apiVersion: ci-deployer/v1
kind: Assistant
metadata:
  name: order-agent
spec:
  name: Order Agent
  model:
    provider: openai
    model: gpt-4.1
    toolIds: [orders, twilio, stores]
    messages:
      - role: system
        content: "You help with orders. Verification word: secrets://HOOK_SECRET, then secrets://gcp/canary-token#1"
""",
        encoding="utf-8",
    )


@pytest.fixture
def served() -> Iterator[tuple[Emulator, ServerHandle]]:
    emulator = Emulator()
    emulator.add_org("acme-dev", API_TOKEN)
    with serve(emulator) as handle:
        yield emulator, handle


@pytest.fixture
def stores() -> Iterator[Stores]:
    """Every secret manager with the canary values, and the job's identities for them."""
    issuer = OidcIssuer()
    gcloud = GoogleCloud()
    with openbao() as bao, moto_server() as moto:
        bao.trust(issuer)
        bao.role("ci-dev", env="dev", audience=bao.url, paths="secret/data/canary/*")
        bao.put_secret("canary/orders", {"token": VAULT_SECRET})
        client = aws_client(moto)
        client.create_secret(Name="canary/orders", SecretString=json.dumps({"token": AWS_JSON_SECRET}))
        client.create_secret(Name="canary/plain", SecretString=AWS_WHOLE_SECRET)
        gcloud.add("acme-dev", "canary-token", GCP_SECRET)
        gcloud.tokens[GOOGLE_TOKEN] = {"acme-dev"}
        environ = {**issuer.environ, "GOOGLE_OAUTH_ACCESS_TOKEN": GOOGLE_TOKEN}
        try:
            yield Stores(bao.url, moto, gcloud.url, environ, issuer)
        finally:
            gcloud.stop()
            issuer.stop()


def leaks(text: str, needles: dict[str, str] | None = None) -> list[str]:
    folded = text.lower()
    table = NEEDLES if needles is None else needles
    return sorted({f"{table[n]!r} as {n!r}" for n in table if n in folded})


def written_files(ctx: Context) -> Iterator[Path]:
    for folder in (ctx.root / ".ci-deployer", ctx.root.parent / ".ci-deployer", ctx.out_dir, ctx.export_dir):
        if folder.exists():
            yield from (p for p in folder.rglob("*") if p.is_file())


def execute(run: Run, ctx: Context, env: dict[str, str]) -> tuple[int, str, str]:
    """Run one step: the CLI (interrupted with SIGTERM if asked) or the action's entrypoint."""
    if run.action is not None:
        summary, output = ctx.out_dir / f"{run.name}.summary.md", ctx.out_dir / f"{run.name}.outputs"
        ctx.out_dir.mkdir(parents=True, exist_ok=True)
        inputs = {"ENVIRONMENT": "dev", "CONFIG_PATH": ctx.root.name, "GITHUB_TOKEN": "", **run.action}
        action_env = {
            **env,
            **{f"INPUT_{name}": value for name, value in inputs.items()},
            "GITHUB_WORKSPACE": str(ctx.root.parent),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_RUN_ID": "77",
        }
        exe = CLI.with_name("ci-deployer-action")
        proc = subprocess.run(
            [str(exe)], cwd=ctx.root.parent, capture_output=True, text=True, timeout=180, env=action_env, check=False
        )
        # `::add-mask::VALUE` is how the runner learns what to mask: it consumes the line, never shows it
        shown = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith("::add-mask::"))
        masked = [line for line in proc.stdout.splitlines() if line.startswith("::add-mask::")]
        assert masked, "the action masked nothing before printing"
        files = summary.read_text(encoding="utf-8") + output.read_text(encoding="utf-8")
        return proc.returncode, shown + "\n" + files, proc.stderr
    argv = [str(CLI), *run.args(ctx), "--config", str(ctx.root)]
    if run.interrupt_after is None:
        done = subprocess.run(argv, cwd=ctx.root, capture_output=True, text=True, timeout=180, env=env, check=False)
        return done.returncode, done.stdout, done.stderr
    proc = subprocess.Popen(argv, cwd=ctx.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        journals = list((ctx.root / ".ci-deployer" / "runs").rglob("apply-log.jsonl"))
        newest = max(journals, key=lambda p: p.stat().st_mtime) if journals else None
        if newest is not None and newest.read_text(encoding="utf-8").count('"event": "write"') >= run.interrupt_after:
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.01)
    stdout, stderr = proc.communicate(timeout=120)
    return proc.returncode, stdout, stderr


def test_no_planted_secret_leaves_in_any_form(
    served: tuple[Emulator, ServerHandle], stores: Stores, tmp_path: Path
) -> None:
    emulator, handle = served
    ctx = Context(tmp_path / "cfg", emulator, handle.url, tmp_path / "export", tmp_path / "out")
    write_config(ctx.root, handle.url, stores)
    inherited = ("PYTEST", "GITHUB_", "INPUT_", "CI_DEPLOYER", "ACTIONS_", "VAULT_", "BAO_", "AWS_", "GOOGLE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    env.update(PLANTED)
    env.update(stores.environ)
    for run in RUNS:
        if run.before is not None:
            run.before(ctx)
        code, stdout, stderr = execute(run, ctx, env)
        assert code in run.exit_codes, f"{run.name}: exit {code}\n{stdout}{stderr}"
        assert "Traceback" not in stdout + stderr, run.name
        ctx.outputs += [(f"{run.name} stdout", stdout), (f"{run.name} stderr", stderr)]
    interrupted = "\n".join(text for what, text in ctx.outputs if what.startswith("apply-interrupted"))
    assert "SIGTERM received" in interrupted and "not attempted" in interrupted

    # The runs did what the canary needs: secrets were sent, and an echo of them came back.
    assert any(r.fault == "echo" for r in emulator.request_log)
    echoed = "\n".join(text for what, text in ctx.outputs if what.startswith("apply-echoed"))
    assert "REQUEST BODY IS INVALID" in echoed and "request body (base64)" in echoed
    files = list(written_files(ctx))
    assert any(p.name.endswith(".jsonl") for p in files) and any(p.suffix == ".yaml" for p in files)

    # Every store was read with the job's identity, and the stored values reached the API.
    tools = httpx.get(f"{handle.url}/tool", headers={"Authorization": f"Bearer {API_TOKEN}"}).json()
    stored = next(t for t in tools if t["function"]["name"] == "stored")["server"]["headers"]
    assert stored == {
        "X-Vault": VAULT_SECRET,
        "X-Aws": f"k={AWS_JSON_SECRET};",
        "X-Aws-Whole": AWS_WHOLE_SECRET,
        "X-Gcp": GCP_SECRET,
    }
    assert set(stores.issuer.audiences) == {stores.vault, "sts.amazonaws.com"}
    assert "E-SECRET" not in "\n".join(text for what, text in ctx.outputs if "check-secrets" in what)

    # The credentials the runs obtained are canaries too: the OIDC request token and every token issued.
    credentials = [stores.issuer.request_token, *stores.issuer.issued]
    table = {**NEEDLES, **{n: c for c in credentials for n in needles(c)}}
    found = {what: leaks(text, table) for what, text in ctx.outputs}
    for path in files:
        found[str(path.relative_to(tmp_path))] = leaks(path.read_bytes().decode("utf-8", errors="replace"), table)
    assert {what: hits for what, hits in found.items() if hits} == {}
