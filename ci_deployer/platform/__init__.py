"""Everything that knows the Vapi REST API.

- :mod:`~ci_deployer.platform.kinds` — the one table of kinds (paths, list shapes, names, refs, quirks)
- :mod:`~ci_deployer.platform.client` — :class:`VapiClient`: one org, retries, paging, errors
- :mod:`~ci_deployer.platform.paging` — listing every item (``limit=1000`` + ``createdAt`` cursor, or ``page``)
- :mod:`~ci_deployer.platform.retry` — :class:`RetryPolicy`, ``Retry-After``
- :mod:`~ci_deployer.platform.limiter` — :class:`ConcurrencyLimiter` (AIMD on 429)
- :mod:`~ci_deployer.platform.api_errors` — NestJS error bodies → :class:`ci_deployer.errors.ApiError`
- :mod:`~ci_deployer.platform.upsert` — create without duplicates after a lost answer
"""
