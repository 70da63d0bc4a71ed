"""A worker finishing while RabbitMQ is away must not end the service (see kernel.service)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from nameko.messaging import QueueConsumer

import kernel.service  # noqa: F401  (applies survive_broker_restarts)

# Needs a real broker.
INTEGRATION = True


def _message(error: Exception) -> SimpleNamespace:
    def ack() -> None:
        raise error

    return SimpleNamespace(channel=SimpleNamespace(connection=object()), ack=ack)


@pytest.mark.parametrize("error", [ConnectionResetError(104, "reset by peer"), BrokenPipeError(32, "broken pipe")])
def test_an_ack_on_a_lost_connection_is_left_for_redelivery(error):
    QueueConsumer().ack_message(_message(error))  # no exception: the container keeps running


def test_other_ack_errors_still_surface():
    with pytest.raises(ValueError):
        QueueConsumer().ack_message(_message(ValueError("a bug, not a lost broker")))
