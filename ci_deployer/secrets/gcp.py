"""``secrets://gcp/NAME[#VERSION]``: GCP Secret Manager over its REST API (httpx), google-auth for identity.

One call reads a secret: ``GET /v1/projects/<project>/secrets/<NAME>/versions/<VERSION>:access``
→ ``{"payload": {"data": <base64>, "dataCrc32c": …}}`` (Secret Manager REST reference,
``projects.secrets.versions.access``).  The REST transport over httpx rather than
google-cloud-secret-manager: the client library brings gRPC, protobuf and google-api-core (tens of
megabytes in the image) for this one GET, and it could not use the transport the tests inject.
google-auth (the ``gcp`` extra) is kept for what it does well, getting an access token:

* with ``workloadIdentityProvider`` and a GitHub OIDC token in the job: Workload Identity Federation
  (Google STS token exchange, then ``serviceAccount`` impersonation when set), as
  google-github-actions/auth does, with no key file and nothing written to disk;
* ``GOOGLE_OAUTH_ACCESS_TOKEN`` (an access token, as gcloud and Terraform take it) — no extra needed;
* otherwise application-default credentials: ``GOOGLE_APPLICATION_CREDENTIALS`` or ``gcloud auth
  application-default login``'s file, or the metadata server.

google-auth's own HTTP goes through :class:`HttpxRequest`, so it needs neither requests nor urllib3.
404 is ``None`` (no such secret or version in this env's project); 429 and 503 are retried.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ci_deployer.config.model import GcpSettings
from ci_deployer.errors import SecretStoreError
from ci_deployer.secrets.base import TIMEOUT, StoreRef, error_text, send
from ci_deployer.secrets.oidc import GitHubOidc
from ci_deployer.settings import CloudCredentials

API = "https://secretmanager.googleapis.com"
STS_URL = "https://sts.googleapis.com/v1/token"
IAM_CREDENTIALS = "https://iamcredentials.googleapis.com"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 (RFC 8693's name for a JWT, not a secret)


class GcpStore:
    """One env's Secret Manager (``secrets.gcp``)."""

    def __init__(
        self,
        settings: GcpSettings,
        env: str,
        credentials: CloudCredentials,
        oidc: GitHubOidc,
        on_credential: Callable[[str], None],
        *,
        transport: object = None,
        sleep: Callable[[float], None] = time.sleep,
        sts_url: str = STS_URL,
        iam_credentials_url: str = IAM_CREDENTIALS,
    ) -> None:
        self._settings = settings
        self._env = env
        self._credentials = credentials
        self._oidc = oidc
        self._on_credential = on_credential
        self._transport = transport
        self._sleep = sleep
        self._sts_url = sts_url
        self._iam_url = iam_credentials_url
        self._token: str | None = None
        self._looked_up = False
        self._versions: dict[tuple[str, str], str | None] = {}  # (name, version) → value, once per run

    def _federates(self) -> bool:
        return bool(self._settings.workload_identity_provider) and self._oidc.available

    def available(self) -> bool:
        c = self._credentials
        return self._federates() or bool(c.google_access_token or c.google_credentials_file)

    def fetch(self, ref: StoreRef) -> str | None:
        version = (ref.name, ref.key or "latest")  # NAME and NAME#latest are one read
        if version not in self._versions:
            self._versions[version] = self._access(ref, version[1])
        return self._versions[version]

    def _access(self, ref: StoreRef, version: str) -> str | None:
        import httpx

        def failed(reason: str) -> SecretStoreError:
            return self._error(ref, reason)

        with httpx.Client(transport=self._transport, timeout=TIMEOUT) as client:  # type: ignore[arg-type]
            token = self._access_token(ref, client)
            if token is None:
                return None
            base = (self._settings.endpoint or API).rstrip("/")
            name = f"projects/{self._settings.project}/secrets/{ref.name}/versions/{version}"
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            response = send(client, "GET", f"{base}/v1/{name}:access", failed, sleep=self._sleep, headers=headers)
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise self._error(
                ref,
                f"Secret Manager denied access to {name} ({error_text(response)})",
                hint="grant roles/secretmanager.secretAccessor on the secret to the run's identity",
            )
        if response.status_code != 200:
            raise self._error(ref, f"Secret Manager answered {error_text(response)}")
        try:
            data = base64.b64decode(response.json()["payload"]["data"], validate=True)
            return data.decode("utf-8") or None
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise self._error(ref, f"{name} holds no text payload") from None

    # -- identity --------------------------------------------------------------------------------------

    def _error(self, ref: StoreRef, message: str, hint: str | None = None) -> SecretStoreError:
        return SecretStoreError("gcp", self._env, ref.ref, message, hint=hint)

    def _access_token(self, ref: StoreRef, client: Any) -> str | None:
        if self._looked_up:
            return self._token
        c = self._credentials
        if not self._federates() and c.google_access_token:
            self._token = c.google_access_token
        else:
            self._token = self._google_auth_token(ref, client)
        if self._token is not None:
            self._on_credential(self._token)
        self._looked_up = True
        return self._token

    def _google_auth_token(self, ref: StoreRef, client: Any) -> str | None:
        try:
            import google.auth as google_auth_module
            import google.auth.exceptions
        except ImportError:
            raise self._error(
                ref,
                "needs the `gcp` extra (google-auth), which is not installed",
                hint="pip install 'ci-deployer[gcp]' (the action's image has every extra), "
                "or give an access token in GOOGLE_OAUTH_ACCESS_TOKEN",
            ) from None
        google_auth: Any = google_auth_module  # partly untyped
        request: Any = HttpxRequest(client)
        try:
            if self._federates():
                credentials = self._federated(ref)
            elif self._credentials.google_credentials_file:
                credentials = self._from_file(ref, self._credentials.google_credentials_file)
            else:
                credentials, _ = google_auth.default(scopes=SCOPES, request=request)
        except google.auth.exceptions.DefaultCredentialsError:
            return None  # no identity here: "not resolvable here"
        try:
            credentials.refresh(request)
        except google.auth.exceptions.GoogleAuthError as exc:
            raise self._error(
                ref,
                f"Google refused the credentials ({type(exc).__name__})",
                hint="for Workload Identity Federation the provider must accept this repository's OIDC tokens "
                "and the service account must grant roles/iam.workloadIdentityUser to the pool's principal",
            ) from None
        token = getattr(credentials, "token", None)
        return token if isinstance(token, str) and token else None

    def _from_file(self, ref: StoreRef, path: str) -> Any:
        """Credentials from ``GOOGLE_APPLICATION_CREDENTIALS``, each type with its own loader (Google's
        advice against the generic loader for files of unknown origin): a user's ADC file, a service
        account key, or an external account (Workload Identity Federation configured outside us)."""
        import json

        try:
            info = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise self._error(
                ref, "GOOGLE_APPLICATION_CREDENTIALS does not name a readable JSON credentials file"
            ) from None
        kind = info.get("type") if isinstance(info, dict) else None
        from google.auth import identity_pool
        from google.oauth2 import credentials, service_account

        loaders: dict[str, Any] = {  # untyped constructors
            "authorized_user": credentials.Credentials.from_authorized_user_info,
            "service_account": service_account.Credentials.from_service_account_info,
            "external_account": identity_pool.Credentials.from_info,  # file or URL subject tokens
        }
        source = info.get("credential_source") if isinstance(info, dict) else None
        if isinstance(kind, str) and kind in loaders and not (isinstance(source, dict) and "environment_id" in source):
            return loaders[kind](info, scopes=SCOPES)  # (environment_id: AWS-sourced, not supported)
        raise self._error(
            ref,
            f"GOOGLE_APPLICATION_CREDENTIALS holds credentials of type {kind!r}, which ci-deployer does not load",
            hint="use an authorized_user file (gcloud auth application-default login), a service account key, "
            "an identity pool configuration, or GOOGLE_OAUTH_ACCESS_TOKEN",
        )

    def _federated(self, ref: StoreRef) -> Any:
        from google.auth import identity_pool as identity_pool_module

        identity_pool: Any = identity_pool_module  # untyped
        provider = self._settings.workload_identity_provider
        assert provider is not None
        audience = self._settings.audience or f"https://iam.googleapis.com/{provider}"
        oidc = self._oidc

        def failed(reason: str) -> SecretStoreError:
            return self._error(ref, reason)

        class GitHubToken(identity_pool.SubjectTokenSupplier):  # type: ignore[misc]  # an Any base
            def get_subject_token(self, context: Any, request: Any) -> str:
                return oidc.token(audience, failed)

        impersonation = None
        if self._settings.service_account:
            impersonation = (
                f"{self._iam_url.rstrip('/')}/v1/projects/-/serviceAccounts/"
                f"{self._settings.service_account}:generateAccessToken"
            )
        return identity_pool.Credentials(
            audience=f"//iam.googleapis.com/{provider}",
            subject_token_type=JWT_TOKEN_TYPE,
            token_url=self._sts_url,
            subject_token_supplier=GitHubToken(),
            service_account_impersonation_url=impersonation,
            scopes=SCOPES,
        )


class HttpxRequest:
    """google-auth's transport interface (``google.auth.transport.Request``) over an httpx client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        import httpx
        from google.auth import exceptions

        errors: Any = exceptions  # untyped constructors
        try:
            response = self._client.request(
                method, url, content=body, headers=dict(headers or {}), timeout=timeout or TIMEOUT
            )
        except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: a blocked socket (no network)
            reason = f"{method} {httpx.URL(url).path}: {type(exc).__name__}"
            raise errors.TransportError(reason) from None
        return _Response(response.status_code, dict(response.headers), response.content)


class _Response:
    """google-auth's ``Response`` interface."""

    def __init__(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.status = status
        self.headers = headers
        self.data = data
