"""The one-line message and exit code for each error class (the ones a subprocess cannot stage)."""

from __future__ import annotations

import errno

import pytest
from sqlalchemy.exc import OperationalError

from pipeline.errors import AuthError, ConfigError
from pipeline.failures import Failure, explain

PG = "postgresql+psycopg://app:s3cret@db.internal:5433/sync"


def pg_error(text: str) -> OperationalError:
    return OperationalError("connect", {}, Exception(text))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            pg_error('connection failed: FATAL:  password authentication failed for user "app"'),
            Failure(
                "the database rejected the user or password in "
                "postgresql+psycopg://app:***@db.internal:5433/sync: "
                "fix it in --db or PIPELINE_DATABASE_URL",
                2,
            ),
            id="wrong-password-masked",
        ),
        pytest.param(
            pg_error('could not translate host name "db.internal" to address'),
            Failure("unknown database host db.internal:5433: fix --db or PIPELINE_DATABASE_URL", 2),
            id="unknown-host",
        ),
        pytest.param(
            OSError(errno.EADDRINUSE, "Address already in use"),
            Failure(
                "the port is already in use: stop what listens there or pick another with --port",
                1,
            ),
            id="busy-port",
        ),
        pytest.param(
            ConfigError("pipeline.toml: workers: bad"),
            Failure("pipeline.toml: workers: bad", 2),
            id="config",
        ),
        pytest.param(AuthError("rejected"), Failure("rejected", 1), id="run-failure"),
        pytest.param(
            ZeroDivisionError("division by zero"),
            Failure(
                "internal error: ZeroDivisionError: division by zero "
                "(run again with -v for the traceback)",
                1,
            ),
            id="bug",
        ),
        pytest.param(KeyboardInterrupt(), Failure("interrupted", 130), id="ctrl-c"),
    ],
)
def test_each_error_class_is_one_line_with_its_exit_code(
    error: BaseException, expected: Failure
) -> None:
    assert explain(error, PG) == expected
