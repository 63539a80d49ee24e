"""BearerToken: lazy resolution from the environment, a clear error, and no token in sight."""

import httpx
import pytest

from pipeline.errors import MissingTokenError, redact
from pipeline.http import BearerToken


def authorization(auth: BearerToken) -> str:
    request = next(auth.auth_flow(httpx.Request("GET", "https://vendor.test/")))
    return request.headers["Authorization"]


def test_explicit_token_is_sent_and_never_shown() -> None:
    auth = BearerToken("given-secret-0001")

    assert authorization(auth) == "Bearer given-secret-0001"
    assert "given-secret-0001" not in repr(auth)
    assert redact("echo given-secret-0001") == "echo [REDACTED]"


def test_env_token_is_read_on_first_use_not_at_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACME_AUTH_TEST", raising=False)
    auth = BearerToken(env="ACME_AUTH_TEST")
    monkeypatch.setenv("ACME_AUTH_TEST", "env-secret-0002")

    assert authorization(auth) == "Bearer env-secret-0002"
    assert repr(auth) == "BearerToken(env='ACME_AUTH_TEST')"
    assert redact("env-secret-0002") == "[REDACTED]"


@pytest.mark.parametrize("value", [None, "", "   "], ids=["unset", "empty", "blank"])
def test_missing_env_token_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    monkeypatch.delenv("ACME_AUTH_TEST", raising=False)
    if value is not None:
        monkeypatch.setenv("ACME_AUTH_TEST", value)

    with pytest.raises(MissingTokenError, match=r"ACME_AUTH_TEST is not set.*--sandbox"):
        _ = BearerToken(env="ACME_AUTH_TEST").token


def test_no_token_and_no_variable_is_a_missing_token() -> None:
    with pytest.raises(MissingTokenError):
        _ = BearerToken().token
