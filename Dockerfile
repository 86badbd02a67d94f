# The ci-deployer GitHub Action. The runner runs it as root with the checkout mounted at
# /github/workspace as the working directory.
#
# Two ways to get it (action.yml): `image: Dockerfile`, as this repository ships it, makes the runner
# build this file in every job; a release (workflows-examples/release.yml) builds it once, pushes it to
# ghcr.io and names it by digest (`image: docker://ghcr.io/OWNER/ci-deployer@sha256:…`), so jobs only
# pull it. Either way one commit gives one Python, one set of packages and one ci-deployer:
#   - the base is pinned by digest (a tag moves whenever Docker rebuilds it);
#   - the packages come from requirements/image.lock: exact versions, sha256 hashes, wheels only;
#     it holds the runtime dependencies and every secret manager's extra (vault, aws, gcp: the
#     image resolves secrets://vault|aws|gcp/… placeholders with nothing more to install);
#   - the wheel's build backend comes from requirements/build.lock, so nothing unpinned is fetched.
# What a rebuild can still change: Debian's git package (apt installs bookworm's current update).
# Regenerate the locks with `python scripts/lock_image.py` (it reads the Python version from the tag
# below), and bump the tag and its digest together.
#
# Base: python:3.12.15-slim-bookworm (then also python:3.12-slim-bookworm), the digest of its
# multi-platform index (linux/amd64, linux/arm64) as read from Docker Hub on 2026-10-02; the same
# digest is pinned, with that tag and date, in several public projects' Dockerfiles of October 2026.
FROM python:3.12.15-slim-bookworm@sha256:54c85f3c47607a77f32adec749d3c81d1348bf25833671f512b26a9b6d778cb3 AS base

# No .pyc files (they would land root-owned in the workspace), unbuffered output so workflow
# commands interleave with the runner's log, no pip cache in the image.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# --- build: the project's wheel, with the locked build backend and no download -------------------
FROM base AS build
COPY requirements/build.lock /tmp/build.lock
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps --only-binary :all: -r /tmp/build.lock
COPY pyproject.toml README.md /src/
COPY ci_deployer /src/ci_deployer
COPY schemas /src/schemas
# Without --no-build-isolation pip would download hatchling, unpinned, into a throwaway environment.
RUN /opt/build/bin/pip wheel --no-build-isolation --no-deps --no-index --wheel-dir /dist /src

# --- the action's image: the locked packages, then the wheel, nothing else from the build -------
FROM base

# git for `validate --base` and history reads; the workspace is owned by the runner's user, so git
# would refuse it as "dubious ownership" (actions/runner#2033) without safe.directory.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'

# The packages first: this layer is rebuilt only when the lock changes.
COPY requirements/image.lock /tmp/image.lock
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps --only-binary :all: -r /tmp/image.lock \
    && rm /tmp/image.lock

# Installed non-editable into the venv: the console scripts import the installed package, never a
# ci_deployer/ folder that a checked-out repository might contain. `pip check` fails the build if
# the lock misses a dependency of the wheel.
COPY --from=build /dist /tmp/dist
RUN /opt/venv/bin/pip install --no-deps --no-index /tmp/dist/ci_deployer-*.whl \
    && /opt/venv/bin/pip check \
    && rm -rf /tmp/dist

ENV PATH=/opt/venv/bin:$PATH
# Exec form with an absolute path: the runner replaces the working directory with the workspace.
ENTRYPOINT ["/opt/venv/bin/ci-deployer-action"]
