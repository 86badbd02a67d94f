"""redact: every registered secret is masked in every form it can take, fast."""

from __future__ import annotations

import base64
import json
import random
import string
import time
from urllib.parse import quote, quote_plus

import pytest

from ci_deployer import redact

PUNCTUATED = "p%2B:/\"'\\ab&x="
EIGHT = "Zq8#vW2k"
TOKEN = "sk-test-9f86d081884c7d659a2feaa0c55ad015"


def encodings(secret: str) -> dict[str, str]:
    """The ways a secret reaches output in practice (not computed with redact.forms)."""
    body = json.dumps({"headers": {"Authorization": f"Bearer {secret}"}})
    return {
        "raw": secret,
        "json": json.dumps(secret)[1:-1],
        "json-in-json": json.dumps(json.dumps({"k": secret}))[1:-1],
        "quote": quote(secret, safe=""),
        "quote-keeps-slash": quote(secret),
        "quote_plus": quote_plus(secret),
        "lower-hex": quote(secret, safe="").lower(),
        "upper": secret.upper(),
        "base64": base64.b64encode(secret.encode()).decode(),
        "urlsafe-base64": base64.urlsafe_b64encode(secret.encode()).decode(),
        "base64-after-1": base64.b64encode(b"u" + secret.encode()).decode(),
        "base64-after-2": base64.b64encode(b"us" + secret.encode()).decode(),
        "basic-auth": base64.b64encode(f"user:{secret}".encode()).decode(),
        "base64-of-body": base64.b64encode(body.encode()).decode(),
        "repr": repr(secret),
    }


def secret_bits(secret: str, shown: str) -> bool:
    """True when ``shown`` still holds a recognisable run of ``secret`` (its first 8 characters)."""
    folded = shown.lower()
    return any(form.lower()[:8] in folded for form in redact.forms(secret) if len(form) >= 8)


@pytest.mark.parametrize("secret", [PUNCTUATED, EIGHT, TOKEN, "ünïcødé-sécret-välue"])
@pytest.mark.parametrize("kind", list(encodings("x" * 8)))
def test_every_encoding_is_masked(secret: str, kind: str) -> None:
    redact.register(secret)
    text = f"Vapi said: invalid value <{encodings(secret)[kind]}> in request"
    out = redact.redact(text)
    assert "***" in out
    assert not secret_bits(secret, out), out


@pytest.mark.parametrize("secret", [PUNCTUATED, EIGHT, TOKEN])
def test_a_secret_cut_short_is_masked(secret: str) -> None:
    redact.register(secret)
    for form in redact.forms(secret):
        for cut in range(8, len(form)):
            for tail in ("", "…", "...", '"', "\n", " (truncated)"):
                out = redact.redact(f"value {form[:cut]}{tail}")
                assert form[:cut] not in out, (form, cut, tail, out)


def test_a_shared_prefix_followed_by_other_text_is_not_masked() -> None:
    redact.register("https://hooks.example.com/services/T000/SECRET")
    assert redact.redact("see https://docs.example.com/guide") == "see https://docs.example.com/guide"
    assert redact.redact("posted to https://hooks.example.com/services/T000/SE…") == "posted to ***…"


def test_overlapping_and_repeated_occurrences() -> None:
    redact.register("aaaaaaaab1")
    assert redact.redact("xaaaaaaaaab1y aaaaaaaab1") == "xa***y ***"


def test_short_values_and_multiline_values() -> None:
    redact.register("abc")  # never registered: masking 3 characters would garble everything
    assert redact.redact("abc abc") == "abc abc"
    pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----"
    redact.register(pem)
    assert "MIIEvQIB" not in redact.redact("line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\r\n")


def test_forms_cover_the_documented_encodings() -> None:
    forms = redact.forms(PUNCTUATED)
    assert PUNCTUATED in forms
    assert json.dumps(PUNCTUATED)[1:-1] in forms
    assert quote_plus(PUNCTUATED) in forms
    assert quote(PUNCTUATED, safe="") in forms
    assert all(len(f) >= redact.MIN_LENGTH for f in forms)


def test_redact_is_fast_on_a_large_text() -> None:
    rng = random.Random(3)
    secrets = [
        "".join(rng.choices(string.ascii_letters + string.digits + "-_", k=rng.randint(8, 40))) for _ in range(18)
    ]
    secrets += [PUNCTUATED, EIGHT]
    for secret in secrets:
        redact.register(secret)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 10))) for _ in range(5000)]
    lines, size = [], 0
    while size < 5_000_000:
        line = f'    "{rng.choice(words)}": "{" ".join(rng.choices(words, k=8))}",'
        lines.append(line)
        size += len(line) + 1
    lines[1000] += secrets[5]
    text = "\n".join(lines)
    redact.redact("warm up: builds the index")
    start = time.perf_counter()
    out = redact.redact(text)
    elapsed = time.perf_counter() - start
    assert secrets[5] not in out and out.count("***") == 1
    assert elapsed < 1.0, f"redact took {elapsed:.2f} s on 5 MB with 20 secrets"
