"""Shared test support: a stateful GitHub stand-in at the HTTP layer and a workflow interpreter.

Importable from every test as ``support.<module>`` (``pythonpath = ["tests"]`` in pyproject.toml).

- :mod:`support.loopback` — a threaded HTTP server on 127.0.0.1 around a request handler.
- :mod:`support.results_service` — the Actions results service (artifact v4 Twirp API + blob store).
- :mod:`support.gitrepo` — a real git repository in a temporary folder.
- :mod:`support.fake_github` — GitHub's REST API backed by a real git repository, with tokens and
  permissions per job, recording every request.
- :mod:`support.expressions` — GitHub Actions ``${{ … }}`` expressions.
- :mod:`support.workflows` — plays the project's example workflow files against the fake.
- :mod:`support.world` — a config repository, the Vapi emulator and the fake GitHub wired together.

Typical use (see tests/workflows/test_smoke_pr_plan.py)::

    from support.workflows import example
    from support.world import make_world

    with make_world(tmp_path) as world:                       # repo + emulator + fake GitHub + runner
        pr = world.github.open_pull_request("tweak", {"platform/prompts/order-agent.md": "..."},
                                            title="Tweak", author="carol")
        run = world.runner.run_workflow(example("pr-plan.yml"), "pull_request",
                                        world.github.pull_request_event(pr.number))
        step = run.job("plan", environment="uat").action_steps()[0]
        step.exit_code, step.outputs["plan_hash"], step.summary, step.annotations
        world.github.comments, world.github.statuses, world.github.unknown_routes
        world.runner.leaks(world.secret_values())              # {} when no secret byte escaped
"""
