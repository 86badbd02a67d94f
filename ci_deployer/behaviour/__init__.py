"""Behavioural tests: evals run through Vapi's ``/eval/run`` (golden transcripts) and tool smoke tests.

    config.behaviour   the `test:` / `smoke:` blocks (parsed, validated, selected per environment)
    behaviour.model    the results record (``test-results.json``, docs/formats.md)
    behaviour.evals    one eval run: POST /eval/run, poll with timeout and backoff, judge the checkpoints
    behaviour.smoke    one smoke call: the tool-calls webhook (or the apiRequest call) and its checks
    behaviour.runner   ``run_tests(session, options)``: which tests, managed or inline, concurrently
    behaviour.canary   after a protected env's apply: the canary evals, and a rollback when they fail

Like the engine, nothing here reads the process environment, runs git or imports the emulator, the
validator or the GitHub edge: the composition root hands in the session (client factory, secret
resolver, state) and, for smoke tests, an optional httpx transport.
"""
