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
class RefField:
    """A field holding the id of another resource; in config it holds that resource's slug.

    ``pattern`` uses :mod:`ci_deployer.paths` syntax.  ``targets`` lists the kinds a slug there may
    name, in lookup order (a KnowledgeBase slug in ``model.toolIds`` means its generated search tool).
    ``Credential`` is the env's ``credentials`` map, not an API kind.
    """

    pattern: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Kind:
    name: str  # "Assistant": the document `kind`
    path: str  # API collection path
    list_shape: ListShape
    name_field: str | None  # dotted path of the display/identity name, None for nameless kinds
    name_max: int | None  # server-enforced maximum length of the name
    refs: tuple[RefField, ...] = ()
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


CREDENTIAL = "Credential"

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
            refs=(
                RefField("destinations[].assistantId", ("Assistant",)),
                RefField("server.credentialId", (CREDENTIAL,)),
                RefField("credentialId", (CREDENTIAL,)),
            ),
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
            refs=(RefField("assistantIds[]", ("Assistant",)),),
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
        ),
        Kind(
            name="Assistant",
            path="/assistant",
            list_shape="array",
            name_field="name",
            name_max=40,
            refs=(
                RefField("model.toolIds[]", ("Tool", "KnowledgeBase")),
                RefField("model.toolRefs[].toolId", ("Tool", "KnowledgeBase")),
                RefField("artifactPlan.structuredOutputIds[]", ("StructuredOutput",)),
                RefField("credentialIds[]", (CREDENTIAL,)),
                RefField("server.credentialId", (CREDENTIAL,)),
            ),
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
            refs=(
                RefField("members[].assistantId", ("Assistant",)),
                RefField("members[].assistantDestinations[].assistantId", ("Assistant",)),
            ),
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
            refs=(
                RefField("assistantId", ("Assistant",)),
                RefField("squadId", ("Squad",)),
                RefField("server.credentialId", (CREDENTIAL,)),
            ),
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
