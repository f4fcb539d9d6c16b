"""Settings from the environment, read when asked (never at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///var/pathways.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    workflows_dir: Path = Path("workflows")
    timer_poll_seconds: float = 30.0
    escalation_intervals: str = "2,5,5"  # working days: overdue -> TM -> SM -> HoS
    app_url: str = "http://127.0.0.1:5000"  # links in notifications
    mail_domain: str = "pathways.local"  # Message-IDs are on this domain; demo users get username@<domain>
    smtp_url: str = ""  # smtp://user:password@host:587 ; empty: write messages to mail_dir
    mail_dir: Path = Path("var/mail")
    mail_from: str = "permanence-pathways@pathways.local"
    stuck_after_working_days: int = 10  # managers' list: a case with no progress for this long is stuck
    min_timer_cycle_seconds: int = 3600  # a repeating timer (timeCycle) may not repeat more often than this
    session_hours: int = 8  # a signed-in session ends this long after sign-in, however active
    session_idle_minutes: int = 60  # ... or after this long without a request
    event_future_skew_minutes: int = 60  # a case-system event dated further ahead than this is refused
    allow_local_subscriptions: bool = False  # development only: webhook subscriptions to this machine
    outbox_lease_seconds: int = 120  # an email or webhook claimed by a worker is its own this long, renewed per item
    notify_api_key: str = ""  # GOV.UK Notify: set, and email goes through Notify instead of SMTP (worker.notify)
    notify_template_id: str = ""  # the Notify email template: subject ((subject)), body ((body))
    notify_templates: str = ""  # per kind of message, "escalation=<id>,alert=<id>"; the rest use notify_template_id
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_reply_to_id: str = ""  # a reply-to address set up in Notify, if any

    @property
    def min_timer_cycle(self) -> timedelta:
        return timedelta(seconds=self.min_timer_cycle_seconds)

    @property
    def outbox_lease(self) -> timedelta:
        return timedelta(seconds=self.outbox_lease_seconds)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            "workflows_dir": Path(os.environ.get("WORKFLOWS_DIR", "workflows")),
            "timer_poll_seconds": float(os.environ.get("TIMER_POLL_SECONDS", "30")),
            "escalation_intervals": os.environ.get("ESCALATION_INTERVALS", "2,5,5"),
            "app_url": os.environ.get("APP_URL", "http://127.0.0.1:5000"),
            "mail_domain": os.environ.get("MAIL_DOMAIN", "pathways.local"),
            "smtp_url": os.environ.get("SMTP_URL", ""),
            "mail_dir": Path(os.environ.get("MAIL_DIR", "var/mail")),
            "mail_from": os.environ.get("MAIL_FROM", "permanence-pathways@pathways.local"),
            "stuck_after_working_days": int(os.environ.get("STUCK_AFTER_WORKING_DAYS", "10")),
            "min_timer_cycle_seconds": int(os.environ.get("MIN_TIMER_CYCLE_SECONDS", "3600")),
            "session_hours": int(os.environ.get("SESSION_HOURS", "8")),
            "session_idle_minutes": int(os.environ.get("SESSION_IDLE_MINUTES", "60")),
            "event_future_skew_minutes": int(os.environ.get("EVENT_FUTURE_SKEW_MINUTES", "60")),
            "allow_local_subscriptions": os.environ.get("ALLOW_LOCAL_SUBSCRIPTIONS", "") in ("1", "true", "yes"),
            "outbox_lease_seconds": int(os.environ.get("OUTBOX_LEASE_SECONDS", "120")),
            "notify_api_key": os.environ.get("NOTIFY_API_KEY", ""),
            "notify_template_id": os.environ.get("NOTIFY_TEMPLATE_ID", ""),
            "notify_templates": os.environ.get("NOTIFY_TEMPLATES", ""),
            "notify_base_url": os.environ.get("NOTIFY_BASE_URL", "https://api.notifications.service.gov.uk"),
            "notify_reply_to_id": os.environ.get("NOTIFY_REPLY_TO_ID", ""),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
