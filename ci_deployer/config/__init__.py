"""Reading the config repository: environments.yaml, documents, includes, policies, templates, secrets.

Public entry points (see :mod:`ci_deployer.config.model` for the data they return):

- :func:`ci_deployer.config.loader.load_repo` — read ``environments.yaml`` and every document under
  the root; returns ``(ConfigRepo, findings)``.  Never raises for bad user input: problems are findings.
- :func:`ci_deployer.config.render.render_env` — for one environment: filter by
  ``metadata.environments``, merge policies, resolve includes, render templates, collect references
  and secret placeholders; returns ``(list[RenderedResource], findings)``.
- :func:`ci_deployer.config.render.logical_specs` — the env-independent specs for the promotion hash.
- :mod:`ci_deployer.config.secrets` — ``secrets://`` placeholders and their resolution.

Modules: ``yamlsource`` (safe reading and parsing with positions), ``environments``, ``loader``,
``includes``, ``templates`` (the sandbox), ``refs``, ``render``, ``secrets``.

Finding codes (``E-`` errors, ``W-`` warnings); every finding has the file (relative to the config
root), line and column where one exists, and a hint::

    E-FILE-READ            not a regular file, or cannot be read
    E-FILE-TOO-LARGE       over 5 MiB (checked with stat, before reading)
    E-FILE-BINARY          NUL bytes
    E-FILE-EMPTY           empty, or only comments
    E-FILE-OUTSIDE         a symlinked document leading outside the config root
    E-ENCODING             not UTF-8 (UTF-16 included)
    E-YAML-SYNTAX          invalid YAML (tabs, unclosed brackets, control characters …)
    E-YAML-DUPKEY          duplicate key (YAML or JSON)
    E-YAML-MULTIDOC        more than one YAML document in a file
    E-YAML-TOO-MANY-NODES  over 200,000 values once aliases are expanded (alias bomb)
    E-YAML-ALIAS           recursive alias
    E-YAML-DEPTH           nesting over 200 levels
    E-YAML-TAG             tags other than the plain YAML ones (!!python/…, !!binary, !custom)
    E-YAML-KEY             a map key that is a list or map, or not a string (`1:`, `true:`, `null:`)
    E-YAML-MERGE / -VALUE  bad `<<` merges, a scalar invalid for its explicit tag (`!!bool yes`)
    E-YAML-NONFINITE       `.nan`, `.inf`, `-.inf`, `1e400` (YAML) or NaN/Infinity (JSON): not JSON numbers
    E-JSON-SYNTAX          invalid JSON in a .json file
    E-ENV-*                environments.yaml: APIVERSION, UNKNOWN-KEY, TYPE, VALUE, NAME, NONE, ORG,
                           API, TOKEN-LITERAL (never echoed), PROMOTES (unknown or cyclic), DEFAULTS
    E-DOC-APIVERSION       missing or not ci-deployer/v1
    E-DOC-KIND             missing or unknown kind (did-you-mean)
    E-DOC-NAME             metadata.name or previousNames not a slug (ASCII, [a-z0-9-], ≤ 40)
    E-DOC-UNKNOWN-KEY      unknown top-level or metadata key (did-you-mean)
    E-DOC-TYPE             wrong type in the envelope (policies, labels, environments …)
    E-DOC-SPEC             spec missing or not a map
    E-DOC-LIST             a file whose top level is a list of documents (one document per file)
    E-DOC-ENV-UNKNOWN      metadata.environments names an environment that does not exist
    W-DOC-NO-ENVIRONMENTS  metadata.environments is empty
    E-POLICY-UNKNOWN       policies names no Policy document
    E-POLICY-NESTED        a Policy listing policies
    W-POLICY-ENVIRONMENTS  metadata.environments on a Policy (ignored)
    E-POLICY-BROKEN        a document skipped because its policy failed to render
    E-INCLUDE-PATH         {file:}/{json:} without a path string
    E-INCLUDE-OUTSIDE      include resolving outside the config root (``..``, absolute, symlink)
    E-INCLUDE-MISSING / -TOO-LARGE (1 MiB) / -BINARY / -READ / -EMPTY, plus parse codes for {json:}
    E-TEMPLATE-SYNTAX      Jinja syntax error
    E-TEMPLATE-UNDEFINED   undefined variable or attribute (named, with did-you-mean)
    E-TEMPLATE-SANDBOX     refused by the sandbox (``__class__``, mutation of params …)
    E-TEMPLATE-LIMIT       loop/call budget, huge range/repetition/power/format width, output size
    E-TEMPLATE-TYPE        a lone expression giving a non-JSON value (a range, a function …)
    E-TEMPLATE-ERROR       any other error raised by the expression (division by zero …)
    E-REF-FORMAT           {ref: …} not ``kind/slug`` or naming an unknown kind
"""
