"""The unit tier runs on fakes (tests/fakes.py): asking for a real server here is a mistake, caught early."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def services() -> None:
    pytest.fail("tests/unit uses fakes only; a test that needs redis-server or FerretDB belongs in tests/integration/")
