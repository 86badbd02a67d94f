"""Fixtures for the secret managers' tests: real peers on loopback (tests/support/secret_peers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.secret_peers import GoogleCloud, OidcIssuer, OpenBao, moto_server, openbao


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    """GitHub's OIDC token endpoint for a job of the ``dev`` environment."""
    server = OidcIssuer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def bao() -> Iterator[OpenBao]:
    """One real OpenBao dev server for the session (tests use paths and roles of their own)."""
    with openbao() as server:
        yield server


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def gcloud() -> Iterator[GoogleCloud]:
    server = GoogleCloud()
    yield server
    server.stop()
