"""The GitHub edge of ci-deployer: everything that knows about GitHub Actions and GitHub's API.

    context      inputs (``INPUT_*``), ``GITHUB_*`` variables and the event payload, read once
    commands     workflow commands: outputs, masks, annotations, groups, the job summary
    markdown     the plan / validation / result reports rendered as GitHub markdown (Jinja2 templates)
    client       the PyGithub client, and translation of its errors into :class:`~ci_deployer.errors.GitHubError`
    comment      the sticky pull-request comment (one per environment, found by a hidden marker)
    artifacts    workflow artifacts uploaded through the Actions results service (artifact v4 protocol)
    state        the GitHub-artifacts state backend: the newest applied snapshot of an environment
    deployments  GitHub Deployments recording each apply

Nothing here runs at import time; :mod:`ci_deployer.action` composes these pieces.
"""
