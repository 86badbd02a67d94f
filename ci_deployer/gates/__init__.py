"""Prod gates and the promotion checklist (DESIGN §2 ``protection``/``promotesFrom``, §6 gates).

Pure core, thin adapters:

- :mod:`~ci_deployer.gates.model` — ``CheckItem``, ``GateReport`` (stable JSON).
- :mod:`~ci_deployer.gates.windows`, :mod:`~ci_deployer.gates.approvals`,
  :mod:`~ci_deployer.gates.ticket`, :mod:`~ci_deployer.gates.promotion`,
  :mod:`~ci_deployer.gates.monitoring` — one gate each, pure functions over plain data.
- :mod:`~ci_deployer.gates.evaluate` — ``GateInputs`` → ``evaluate(env, inputs)`` → ``GateReport``;
  ``enforce(report)`` raises ``GateRefused``.  Apply calls both before its first write.
- :mod:`~ci_deployer.gates.render` — text, markdown, json and github renderers.
- :mod:`~ci_deployer.gates.github_evidence` and :mod:`~ci_deployer.gates.collect` — the I/O edges
  (PyGithub, local git, the state folder).
"""
