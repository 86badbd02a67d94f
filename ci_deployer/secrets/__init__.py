"""Secret managers behind ``secrets://`` placeholders (DESIGN §2): Vault, AWS and GCP.

The placeholder's prefix chooses the provider; everything else about it comes from the planned
env's ``secrets:`` block (``config/secrets_block.py``), so a placeholder only ever reads the store
its own env configures — a dev run never reaches prod's Vault, account or project::

    secrets://NAME                 environment variable            (config/secrets.py)
    secrets://file/PATH            file below secrets.fileRoot     (config/secrets.py)
    secrets://vault/PATH#KEY       HashiCorp Vault / OpenBao KV v2 (vault.py, plain httpx)
    secrets://aws/NAME[#KEY]       AWS Secrets Manager: a JSON key, or the whole string (aws.py, boto3)
    secrets://gcp/NAME[#VERSION]   GCP Secret Manager, ``latest`` by default (gcp.py, REST + google-auth)

One small interface (:class:`~ci_deployer.secrets.base.SecretStore`): ``available()`` says, without
a request, whether this run has an identity for the store; ``fetch(ref)`` returns the value, or
``None`` when the secret does not exist or no identity is available here ("not resolvable here").
:class:`~ci_deployer.secrets.stores.SecretStores` holds one env's stores, builds each on first
use (its library is imported then: a missing extra is an error naming it) and fetches each value
once per run (memory only).

Identity, the way CI does it: the GitHub OIDC token (``oidc.py``, requested per audience) exchanged
for a Vault token (JWT auth), AWS credentials (``AssumeRoleWithWebIdentity``) or a Google access
token (Workload Identity Federation); locally ``VAULT_TOKEN``, the AWS default credential chain,
GCP application-default credentials or ``GOOGLE_OAUTH_ACCESS_TOKEN``.  Those credentials are read
once at the edge (:class:`ci_deployer.settings.CloudCredentials`) and every credential obtained is
handed to ``on_credential`` (redaction and ``::add-mask::``) before it is used.

Errors (:class:`ci_deployer.errors.SecretStoreError`) name the placeholder, the env and the
provider — never a value or a credential.  Throttling (HTTP 429/503, AWS ``ThrottlingException``)
is retried with backoff; every request has a timeout.
"""
