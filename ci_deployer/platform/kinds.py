"""The one table of kinds: what ci-deployer knows about each Vapi resource type.

Adding a kind is one entry here plus its schema (``scripts/gen_schemas.py``).  Facts come from
Vapi's OpenAPI spec and the reference notes (paths, list shapes, server-managed fields, PATCH
quirks); see the README's "Vapi facts" section for sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ListShape = Literal["array", "paginated"]

# Fields the server sets on every resource; never sent, stripped before diffing.
COMMON_SERVER_FIELDS = frozenset({"id", "orgId", "createdAt", "updatedAt"})
# Fields Vapi adds that are not part of any create payload (VapiAI/gitops canonical.ts EXCLUDED_FIELDS).
EXTRA_SERVER_FIELDS = frozenset(
    {"latestVersion", "isServerUrlSecretSet", "analyticsMetadata", "isDeleted", "workflowIds"}
)


@dataclass(frozen=True)
class Kind:
    name: str  # "Assistant": the document `kind`
    path: str  # API collection path
    list_shape: ListShape
    name_field: str | None  # dotted path of the display/identity name, None for nameless kinds
    name_max: int | None  # server-enforced maximum length of the name
    server_fields: frozenset[str] = COMMON_SERVER_FIELDS | EXTRA_SERVER_FIELDS
    patch_drop: frozenset[str] = frozenset()  # never sent on PATCH (tool/SO/eval `type`)
    patch_always: frozenset[str] = frozenset()  # always sent on PATCH (squad `members`)
    order: int = 0  # apply order; deletes run in reverse
    labels: bool = False  # carries metadata.ciDeployer labels (only assistants have metadata)
    creatable: bool = True  # PhoneNumber: bought outside, only routing fields are patched
    deletable: bool = True
    schema: str = ""  # file stem under schemas/spec/
    # Per-kind name fields that depend on the payload (function tools keep their name in function.name)
    alt_name_fields: tuple[str, ...] = field(default=())
    # GET {path}/{id} answers the same object its list holds, so a partial plan may read it by the id
    # the state recorded instead of listing the kind (engine/session.py read_scoped).
    get_is_listed: bool = True


CREDENTIAL = "Credential"

# Reference fields are not listed per kind: scripts/gen_schemas.py derives them from Vapi's OpenAPI
# spec into schemas/refs.json (ci_deployer.platform.reftable reads it).  It walks each kind's create
# payload through every $ref, oneOf/anyOf/allOf and array, so an id nested in a squad member's
# `assistantOverrides`, a transfer destination or a hook's inline tool is found like a top-level
# one.  A property is an id when its name says so (`…Id`, `…Ids`, `id`, `…_id`) or its description
# does ("the ID of …").  Every such name must be classified below, or the generator stops: either
# resolved (the kinds a slug there may name, in lookup order: a KnowledgeBase slug in `toolIds`
# means its generated search tool, DESIGN §2) or excluded with the reason.
ID_FIELDS: dict[str, tuple[str, ...]] = {
    "toolIds": ("Tool", "KnowledgeBase"),
    "toolId": ("Tool", "KnowledgeBase"),  # model.toolRefs[].toolId, hook actions, workflow tool nodes
    "declineToolId": ("Tool",),  # compliancePlan.recordingConsentPlan: a tool run when consent is declined
    "assistantId": ("Assistant",),
    "assistantIds": ("Assistant",),
    "squadId": ("Squad",),
    "structuredOutputId": ("StructuredOutput",),  # artifactPlan.scorecards[].metrics[]
    "structuredOutputIds": ("StructuredOutput",),
    # Credentials are not an API kind here: slugs of the env's `credentials` map (environments.yaml).
    "credentialId": (CREDENTIAL,),
    "credentialIds": (CREDENTIAL,),
}
# Id-marked properties that stay as written, and why.  A key is a property name (anywhere) or
# `Schema.property` (that schema only).
ID_FIELDS_EXCLUDED: dict[str, str] = {
    "workflowId": "workflows are not managed (and /workflow left Vapi's public spec in 2025)",
    "workflowIds": "workflows are not managed (the structured output side of a workflow link)",
    "fileIds": "uploaded files are named by content, as {document: PATH} (ci_deployer/config/documents.py)",
    "scorecardIds": "observability scorecards are not managed",
    "monitorIds": "monitors are not managed",
    "outcomeIds": "analysis outcomes are not managed",
    "voiceId": "a voice provider's voice id, not a Vapi resource",
    "personaId": "a voice provider's (Tavus) persona id",
    "libraryIds": "a voice provider's (WellSaid) library ids",
    "pronunciationDictId": "a voice provider's pronunciation dictionary id",
    "pronunciationDictionaryId": "a voice provider's (ElevenLabs) pronunciation dictionary id",
    "versionId": "a voice provider's pronunciation dictionary version id",
    "callerId": "the caller ID (a phone number or SIP URI) shown on a transfer",
    "accessKeyId": "an inline credential's storage access key (a provider secret's id)",
    "awsAccessKeyId": "an inline credential's AWS access key id",
    "accountId": "an inline credential's provider account id",
    "authorizationId": "an inline credential's OAuth2 authorization id",
    "clientId": "an inline credential's OAuth2 or GCP client id",
    "privateKeyId": "an inline GCP key's private key id",
    "projectId": "an inline GCP key's project id",
    "externalId": "an AWS STS external id or a customer's external id (free text)",
    "groupId": "an inline credential's provider group id",
    "teamId": "an inline credential's provider team id",
    "userId": "an inline credential's provider user id",
    "ToolCall.id": "the id of a tool call in a mock conversation, chosen by the author",
    "ToolMessage.tool_call_id": "the id of the tool call a mock tool message answers",
}

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            name="Tool",
            path="/tool",
            list_shape="array",
            name_field="name",
            alt_name_fields=("function.name",),
            name_max=40,
            patch_drop=frozenset({"type"}),
            order=0,
            schema="tool",
        ),
        Kind(
            name="StructuredOutput",
            path="/structured-output",
            list_shape="paginated",
            name_field="name",
            name_max=40,
            patch_drop=frozenset({"type"}),
            order=0,
            schema="structured-output",
        ),
        Kind(
            name="KnowledgeBase",
            path="/v2/knowledge-base",
            list_shape="array",
            name_field="name",
            name_max=80,
            order=0,
            schema="knowledge-base",
            get_is_listed=False,  # GET /v2/knowledge-base/{id} is KnowledgeBaseV2WithFiles (+files, toolId)
        ),
        Kind(
            name="Assistant",
            path="/assistant",
            list_shape="array",
            name_field="name",
            name_max=40,
            order=1,
            labels=True,
            schema="assistant",
        ),
        Kind(
            name="Squad",
            path="/squad",
            list_shape="array",
            name_field="name",
            name_max=None,
            patch_always=frozenset({"members"}),
            order=2,
            schema="squad",
        ),
        Kind(
            name="Eval",
            path="/eval",
            list_shape="paginated",
            name_field="name",
            name_max=None,
            patch_drop=frozenset({"type"}),
            order=3,
            schema="eval",
        ),
        Kind(
            name="PhoneNumber",
            path="/phone-number",
            list_shape="array",
            name_field="number",
            name_max=40,
            server_fields=COMMON_SERVER_FIELDS | EXTRA_SERVER_FIELDS | {"status"},
            order=3,
            creatable=False,
            deletable=False,
            schema="phone-number",
        ),
    )
}

# Documents that are not API resources.
POLICY = "Policy"
DOCUMENT_KINDS = (*KINDS, POLICY)

# Read-only kinds the API lists but that are not managed by documents.
GENERATED_TOOL_TYPES = frozenset({"knowledgeBase"})

# The search tool Vapi generates for a knowledge base (DESIGN §2: a KB slug in a tool-id field means
# it).  Not a kind of its own: ``ref:KnowledgeBaseTool/<kb slug>`` stands for that tool's id, which is
# not the KB's id, and resolves once the KB exists.  ``TOKEN_OWNER`` names the resource a token waits for.
KB_TOOL = "KnowledgeBaseTool"
TOKEN_OWNER = {KB_TOOL: "KnowledgeBase"}


def owner_of(token_kind: str) -> str:
    """The kind a reference token's resource is created as (``KnowledgeBaseTool`` → ``KnowledgeBase``)."""
    return TOKEN_OWNER.get(token_kind, token_kind)


def kind(name: str) -> Kind:
    return KINDS[name]
