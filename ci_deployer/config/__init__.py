"""Reading the config repository: environments.yaml, documents, includes, policies, templates, secrets.

Public entry points (see :mod:`ci_deployer.config.model` for the data they return):

- :func:`ci_deployer.config.loader.load_repo` — read ``environments.yaml`` and every document under
  the root; returns ``(ConfigRepo, findings)``.  Never raises for bad user input: problems are findings.
- :func:`ci_deployer.config.render.render_env` — for one environment: filter by
  ``metadata.environments``, merge policies, resolve includes, render templates, collect references
  and secret placeholders; returns ``(list[RenderedResource], findings)``.
"""
