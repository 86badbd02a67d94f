"""The engine: plan, apply, drift, export, rollback, state and snapshots.

Data in, data out (DESIGN §4): the planner takes desired resources, the live org (or a snapshot)
and the env's state and returns a :class:`~ci_deployer.engine.plan.Plan` value; apply takes a
plan context and a client.  Files, HTTP and the environment are reached only through what
the composition root (:mod:`ci_deployer.compose`) builds and passes in.
"""
