"""The GitHub Actions OIDC token: the run's identity, exchanged by the stores for their own credentials.

The runner passes ``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN`` to the
job's steps — container actions included — only when the job has ``permissions: id-token: write``
(``../shared/reference/github-actions.md`` §1.2).  The token is requested as actions/toolkit's
``core.getIDToken(audience)`` does: ``GET <url>&audience=<aud>`` with the request token as a bearer,
answered by ``{"value": "<JWT>"}``.  One token per audience per run; each is handed to
``on_credential`` (masked) before use.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

from ci_deployer.errors import SecretStoreError
from ci_deployer.secrets.base import TIMEOUT, error_text, send
from ci_deployer.settings import CloudCredentials


class GitHubOidc:
    """Requests GitHub OIDC tokens for this run (per audience, cached)."""

    def __init__(
        self,
        credentials: CloudCredentials,
        on_credential: Callable[[str], None],
        *,
        transport: object = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = credentials.oidc_request_url
        self._token = credentials.oidc_request_token
        self._on_credential = on_credential
        self._transport = transport
        self._sleep = sleep
        self._tokens: dict[str, str] = {}

    @property
    def available(self) -> bool:
        """Whether the job may request a token (it has ``permissions: id-token: write``)."""
        return bool(self._url and self._token)

    def token(self, audience: str, failed: Callable[[str], SecretStoreError]) -> str:
        """The OIDC token (a JWT) for ``audience``; ``failed(reason)`` builds the error when GitHub refuses."""
        if audience in self._tokens:
            return self._tokens[audience]
        import httpx

        self._on_credential(self._token)
        separator = "&" if "?" in self._url else "?"
        url = f"{self._url}{separator}audience={quote(audience, safe='')}"
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json; api-version=2.0"}
        with httpx.Client(transport=self._transport, timeout=TIMEOUT) as client:  # type: ignore[arg-type]
            response = send(client, "GET", url, failed, sleep=self._sleep, headers=headers)
        if response.status_code != 200:
            raise failed(
                f"GitHub refused the OIDC token request ({error_text(response)}); "
                "does the job have `permissions: id-token: write`?"
            )
        try:
            value = response.json().get("value")
        except (ValueError, AttributeError):
            value = None
        if not isinstance(value, str) or not value:
            raise failed("GitHub's OIDC token endpoint answered without a token")
        self._on_credential(value)
        self._tokens[audience] = value
        return value
