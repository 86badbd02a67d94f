"""A Vapi-compatible API for tests, the embedded default and ``ci-deployer emulator serve``.

It answers like Vapi (facts from Vapi's OpenAPI spec and VapiAI/gitops; see the README):

- bare-array lists, newest first, with ``limit`` (default 100, max 1000) and ``createdAt*`` /
  ``updatedAt*`` filters for /assistant, /squad, /tool, /phone-number, /file, /v2/knowledge-base;
  ``{results, metadata}`` pages (``page``, ``sortOrder``) for /structured-output, /eval, /eval/run, /chat
  and GET /v2/phone-number (which also takes ``search`` over name, number and SIP URI);
- POST 201; PATCH merges the top level only and ``null`` unsets a field; DELETE 200 with the object;
- NestJS-style 400 bodies from the shared schemas (:func:`ci_deployer.validate.schemas.validate_spec`),
  and every id field Vapi's spec declares (nested ones too: :mod:`ci_deployer.platform.reftable`)
  must hold an id of the same org; 404 for unknown and foreign ids; 401 for a
  missing or unknown bearer token (each token reaches one org);
- a generated ``knowledgeBase`` search tool per knowledge base; BYO phone numbers only;
- files: multipart ``POST /file`` (``purpose``, ``metadata``), ``GET /file?purpose=``, ``GET|PATCH|DELETE
  /file/{id}``, knowledge-base attach/detach/retry, and processing that takes time
  (:class:`Processing`: a File is ``processing`` → ``done``, an attachment ``indexing`` → ``ready``,
  after N reads or a delay); a File's ``url`` is ``/file/{id}/content`` (its bytes), standing in for
  Vapi's storage URL; ``GET /v2/knowledge-base/{id}`` answers KnowledgeBaseV2WithFiles;
- server defaults on create (:data:`ci_deployer.emulator.rules.SERVER_DEFAULTS`);
- a deterministic scripted responder for /chat and /eval/run (:mod:`ci_deployer.emulator.responder`:
  the reply is derived from the assistant's tools, first message and system prompt, so tests can pass
  and fail on purpose), inline (transient) eval-run targets and evals validated like creates, and
  optionally asynchronous eval runs (``Emulator(eval_run_polls=N)``: ``queued``, N × ``running``, ``ended``);
- switchable faults (:class:`Faults`) and a request log (:class:`LoggedRequest`).

Documented approximations: deleting a tool referenced by any assistant (``model.toolIds`` /
``toolRefs``), or an assistant referenced by a squad member, answers 409 ``version_pinned`` (Vapi
does so for version pins, which are not public API); the generated KB tool is named
``search_<base name>``; bare-array lists accept the timestamp filters on /v2/knowledge-base too;
/v2/phone-number's ``sortBy=duration|cost`` (call columns a number does not have) keep createdAt order.

Front ends: :meth:`Emulator.transport` (in-process httpx transport), :meth:`Emulator.wsgi_app`,
:func:`serve` (HTTP/1.1 keep-alive on a background thread) and :func:`embedded_transport`
(``api: {url: embedded}``).
"""

from __future__ import annotations

from ci_deployer.emulator.app import Emulator, LoggedRequest, Processing
from ci_deployer.emulator.faults import Faults
from ci_deployer.emulator.rules import SERVER_DEFAULTS
from ci_deployer.emulator.server import ServerHandle, serve
from ci_deployer.emulator.transport import embedded_transport

__all__ = [
    "SERVER_DEFAULTS",
    "Emulator",
    "Faults",
    "LoggedRequest",
    "Processing",
    "ServerHandle",
    "embedded_transport",
    "serve",
]
