"""``secrets://aws/NAME[#KEY]``: AWS Secrets Manager, through boto3 (the ``aws`` extra).

boto3 earns its place here: SigV4 signing, the credential chain developers already use (profiles,
SSO, instance and container roles) and the standard retry mode, which retries ``ThrottlingException``
and 5xx with backoff (botocore "Retries" guide) — none of it worth re-implementing.

Identity, in order:

* with ``roleArn`` and a GitHub OIDC token in the job: ``sts:AssumeRoleWithWebIdentity`` (an unsigned
  call: the JWT is the proof) for temporary credentials, as aws-actions/configure-aws-credentials does;
* ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN`` or ``AWS_PROFILE`` from the
  run's settings;
* otherwise boto3's default chain (shared config and SSO, container and instance roles).

``GetSecretValue`` with ``SecretId=NAME`` reads the ``AWSCURRENT`` version; ``#KEY`` picks a key of
its JSON string, no key takes the whole string.  ``ResourceNotFoundException`` and "no credentials
here" are ``None``; other errors are :class:`SecretStoreError` with AWS's code (never the value).
``endpoint`` (per env) points Secrets Manager and STS elsewhere: a VPC endpoint, LocalStack, moto.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ci_deployer.config.model import AwsSettings
from ci_deployer.errors import SecretStoreError
from ci_deployer.secrets.base import ATTEMPTS, TIMEOUT, StoreRef, as_text
from ci_deployer.secrets.oidc import GitHubOidc
from ci_deployer.settings import CloudCredentials

SESSION_NAME = "ci-deployer"
_ABSENT = object()


class AwsStore:
    """One env's Secrets Manager (``secrets.aws``)."""

    def __init__(
        self,
        settings: AwsSettings,
        env: str,
        credentials: CloudCredentials,
        oidc: GitHubOidc,
        on_credential: Callable[[str], None],
        *,
        session_name: str = SESSION_NAME,
    ) -> None:
        self._settings = settings
        self._env = env
        self._credentials = credentials
        self._oidc = oidc
        self._on_credential = on_credential
        self._session_name = session_name
        self._client: Any = None
        self._secrets: dict[str, str | None] = {}

    def _web_identity(self) -> bool:
        return bool(self._settings.role_arn) and self._oidc.available

    def available(self) -> bool:
        c = self._credentials
        return self._web_identity() or bool(c.aws_access_key_id and c.aws_secret_access_key) or bool(c.aws_profile)

    def fetch(self, ref: StoreRef) -> str | None:
        if ref.name not in self._secrets:
            self._secrets[ref.name] = self._get(ref)
        text = self._secrets[ref.name]
        if text is None or ref.key is None:
            return text
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise self._error(ref, f"secret {ref.name} is not a JSON object, so it has no key {ref.key!r}",
                              hint=f"write secrets://aws/{ref.name} for the whole string")  # fmt: skip
        value = document.get(ref.key, _ABSENT)
        if value is _ABSENT or value is None:
            known = ", ".join(sorted(document)) or "none"
            raise self._error(ref, f"secret {ref.name} has no key {ref.key!r} (its keys: {known})")
        return as_text(value)

    # -- boto3 -----------------------------------------------------------------------------------------

    def _error(self, ref: StoreRef, message: str, hint: str | None = None) -> SecretStoreError:
        return SecretStoreError("aws", self._env, ref.ref, message, hint=hint)

    def _config(self) -> Any:
        from botocore.config import Config

        return Config(
            region_name=self._settings.region,
            retries={"mode": "standard", "max_attempts": ATTEMPTS},  # ThrottlingException, 5xx, timeouts
            connect_timeout=TIMEOUT,
            read_timeout=TIMEOUT,
        )

    def _session(self, ref: StoreRef) -> Any:
        """A boto3 session with this run's identity (see the module docstring for the order)."""
        try:
            import boto3
        except ImportError:
            raise self._error(
                ref,
                "needs the `aws` extra (boto3), which is not installed",
                hint="pip install 'ci-deployer[aws]' (the action's image has every extra)",
            ) from None
        c = self._credentials
        if self._web_identity():
            return self._assume_role(ref, boto3)
        if c.aws_access_key_id and c.aws_secret_access_key:
            for value in (c.aws_secret_access_key, c.aws_session_token):
                if value:
                    self._on_credential(value)
            return boto3.Session(
                aws_access_key_id=c.aws_access_key_id,
                aws_secret_access_key=c.aws_secret_access_key,
                aws_session_token=c.aws_session_token or None,
                region_name=self._settings.region,
            )
        return boto3.Session(profile_name=c.aws_profile or None, region_name=self._settings.region)

    def _assume_role(self, ref: StoreRef, boto3: Any) -> Any:
        from botocore import UNSIGNED
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        def failed(reason: str) -> SecretStoreError:
            return self._error(ref, reason)

        jwt = self._oidc.token(self._settings.audience, failed)
        sts = boto3.Session(region_name=self._settings.region).client(
            "sts",
            endpoint_url=self._settings.endpoint,
            config=self._config().merge(Config(signature_version=UNSIGNED)),
        )
        try:
            answer = sts.assume_role_with_web_identity(
                RoleArn=self._settings.role_arn, RoleSessionName=self._session_name, WebIdentityToken=jwt
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise self._error(
                ref,
                f"STS refused AssumeRoleWithWebIdentity for {self._settings.role_arn} "
                f"({error.get('Code', 'error')}: {error.get('Message', '')})",
                hint="the role's trust policy must accept token.actions.githubusercontent.com with "
                f"aud {self._settings.audience!r} and this job's sub (repo, environment)",
            ) from None
        except BotoCoreError as exc:
            raise self._error(ref, f"STS could not be reached ({type(exc).__name__})") from None
        creds = answer["Credentials"]
        for value in (creds["SecretAccessKey"], creds["SessionToken"]):
            self._on_credential(value)
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self._settings.region,
        )

    def _get(self, ref: StoreRef) -> str | None:
        if self._client is None:
            self._client = self._session(ref).client(
                "secretsmanager", endpoint_url=self._settings.endpoint, config=self._config()
            )
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            answer = self._client.get_secret_value(SecretId=ref.name)
        except NoCredentialsError:
            return None  # no identity here: "not resolvable here", like an unset variable
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "error"))
            if code == "ResourceNotFoundException":
                return None
            raise self._error(
                ref,
                f"Secrets Manager refused GetSecretValue for {ref.name} ({code}: {error.get('Message', '')})",
                hint="grant secretsmanager:GetSecretValue on the secret (and kms:Decrypt on its key) to the role"
                if code == "AccessDeniedException"
                else None,
            ) from None
        except BotoCoreError as exc:
            raise self._error(ref, f"Secrets Manager could not be reached ({type(exc).__name__})") from None
        text = answer.get("SecretString")
        if text is None and answer.get("SecretBinary") is not None:
            try:
                text = bytes(answer["SecretBinary"]).decode("utf-8")
            except UnicodeDecodeError:
                raise self._error(ref, f"secret {ref.name} is binary, not text") from None
        return text if isinstance(text, str) and text else None
