"""Prometheus metrics, one registry per runtime so tests and processes never share counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.inbound = Counter("liuhen_inbound_total", "Inbound events stored", ["channel"], registry=self.registry)
        self.inbound_duplicate = Counter(
            "liuhen_inbound_duplicate_total", "Redelivered inbound events ignored", ["channel"], registry=self.registry
        )
        self.inbound_rejected = Counter(
            "liuhen_inbound_rejected_total", "Inbound requests refused", ["channel", "reason"], registry=self.registry
        )
        self.processed = Counter(
            "liuhen_processed_total", "Inbound events processed", ["outcome"], registry=self.registry
        )
        self.outbox_sent = Counter("liuhen_outbox_sent_total", "Messages delivered", ["channel"], registry=self.registry)
        self.outbox_retried = Counter(
            "liuhen_outbox_retried_total", "Delivery attempts that failed and will be retried", ["channel"],
            registry=self.registry,
        )
        self.outbox_failed = Counter(
            "liuhen_outbox_failed_total", "Messages given up after the last attempt", ["channel"],
            registry=self.registry,
        )
        self.platform_quota_exceeded = Counter(
            "liuhen_platform_quota_exceeded_total", "Months a platform's API quota ran out", ["channel"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge("liuhen_outbox_pending", "Messages waiting to be sent", registry=self.registry)
        self.wecom_daily_sent = Gauge("liuhen_wecom_daily_sent", "WeCom member-messages sent today (last check)",
                                      registry=self.registry)
        self.wecom_daily_cap = Gauge("liuhen_wecom_daily_cap", "WeCom's daily cap: known members × 200",
                                     registry=self.registry)
        self.handle_seconds = Histogram(
            "liuhen_handle_seconds", "Time to process one inbound event", registry=self.registry
        )
