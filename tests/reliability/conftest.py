"""Fixtures shared by the reliability suites: the hostile corpus's attacker host."""

from __future__ import annotations

import pytest

from tests.fakes.hostile import Attacker


@pytest.fixture(scope="module")
def attacker():
    host = Attacker()
    yield host
    host.server.stop()
