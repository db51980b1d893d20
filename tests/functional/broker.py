# SPDX-License-Identifier: Apache-2.0
"""Tidy the shared RabbitMQ after the suites that publish to it.

Notifiers declare ``<topic>.<priority>`` queues so that nothing sent is
lost; a test topic nobody consumes afterwards would otherwise keep its
messages on the broker for good (nova_drs.notifications.queues, which the
load test uses too).
"""

from nova_drs.notifications.queues import delete_queues  # noqa: F401
