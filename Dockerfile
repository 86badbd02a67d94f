# The ci-deployer GitHub Action. The runner builds this at job time (`image: Dockerfile`) and runs it
# as root with the checkout mounted at /github/workspace as the working directory.
FROM python:3.12-slim

# No .pyc files (they would land root-owned in the workspace), unbuffered output so workflow
# commands interleave with the runner's log, no pip cache in the image.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# git for `validate --base` and history reads; the workspace is owned by the runner's user, so git
# would refuse it as "dubious ownership" (actions/runner#2033) without safe.directory.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'

COPY . /src
# Installed non-editable into a venv: the console script imports the installed package, never a
# ci_deployer/ folder that a checked-out repository might contain.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir /src \
    && rm -rf /src

ENV PATH=/opt/venv/bin:$PATH
# Exec form with an absolute path: the runner replaces the working directory with the workspace.
ENTRYPOINT ["/opt/venv/bin/ci-deployer-action"]
