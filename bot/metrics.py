"""Prometheus metrics (prometheus-client: the standard exposition format, no hand-written text)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """One registry per app, so tests and two apps in one process do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "helpdesk_messages_total",
            "Messages seen, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.commands = Counter(
            "helpdesk_commands_total",
            "Commands run, by command and result",
            ["command", "result"],
            registry=self.registry,
        )
        self.sent = Counter(
            "helpdesk_outbox_sent_total", "Messages sent from the outbox", registry=self.registry
        )
        self.send_failures = Counter(
            "helpdesk_outbox_failures_total",
            "Failed send attempts",
            ["kind"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "helpdesk_outbox_pending", "Messages waiting to be sent", registry=self.registry
        )
        self.outbox_dead = Gauge(
            "helpdesk_outbox_dead", "Dead letters waiting for an operator", registry=self.registry
        )
        self.dead_letters = Counter(
            "helpdesk_outbox_dead_letters_total",
            "Messages given up on (moved to the dead-letter state)",
            registry=self.registry,
        )
        self.active = Gauge(
            "helpdesk_replica_active",
            "1 while this process is the active replica, 0 while it is a standby",
            registry=self.registry,
        )
        self.relogins = Counter(
            "helpdesk_session_relogins_total",
            "Logins after the homeserver revoked the session",
            registry=self.registry,
        )
        self.handle_seconds = Histogram(
            "helpdesk_handle_seconds", "Time to handle one message", registry=self.registry
        )
        self.syncs = Counter(
            "helpdesk_syncs_total", "Sync responses processed", registry=self.registry
        )
