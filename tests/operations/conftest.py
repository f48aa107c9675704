"""The ``run_op`` fixture: an operation run on the fake host of ``fake_host``."""

from __future__ import annotations

from typing import Any

import pytest
from fake_host import FakeHost, render
from pyinfra.context import ctx_host, ctx_state
from pyinfra_testing.util import FakeState


@pytest.fixture
def run_op():
    """``run_op(op, facts, **kwargs)`` -> (commands, host) with commands rendered as text."""

    def run(op: Any, facts: dict[Any, Any], executing: bool = True, **kwargs: Any):
        fake = FakeHost(facts=facts, executing=executing)
        with ctx_state.use(FakeState()), ctx_host.use(fake):
            commands = [render(c) for c in op._inner(**kwargs)]
        return commands, fake

    return run
