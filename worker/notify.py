"""GOV.UK Notify as the outbox's email sender (notifications-python-client).

Chosen when ``NOTIFY_API_KEY`` is set. Each message is sent with one of the service's Notify
email templates (``NOTIFY_TEMPLATE_ID``, or per kind of message ``NOTIFY_TEMPLATES``), which
must have ``((subject))`` as its subject and ``((body))`` in its message; ``((link))`` is also
given. The outbox key is Notify's ``reference``, so a message sent again after a crash is
recognisable in Notify's own records, as the Message-ID is by SMTP.

Notify's answer decides what happens next: a 400 (an address or template it refuses) or 403 (the
key) cannot be fixed by trying again, so the message is dead-lettered at once for an
administrator; a 429 or 5xx is tried again with the outbox's back-off.
"""

from __future__ import annotations

from typing import Any

from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient

from engine.services.notifications import OutboundEmail, Undeliverable

KINDS = {"task:": "escalation", "deadline:": "escalation", "alert:": "alert"}


def kind_of(key: str) -> str:
    return next((kind for prefix, kind in KINDS.items() if key.startswith(prefix)), "other")


def parse_templates(spec: str) -> dict[str, str]:
    """``escalation=<id>,alert=<id>`` into a dict (blank: none)."""
    found = {}
    for part in (spec or "").split(","):
        name, _, template = part.partition("=")
        if name.strip() and template.strip():
            found[name.strip()] = template.strip()
    return found


class NotifySender:
    def __init__(self, api_key: str, template_id: str, templates: dict[str, str] | None = None,
                 base_url: str = "https://api.notifications.service.gov.uk", reply_to_id: str = "",
                 timeout: float = 20.0) -> None:  # fmt: skip
        if not template_id:
            raise ValueError("NOTIFY_TEMPLATE_ID is needed with NOTIFY_API_KEY: the template every message uses")
        self.client = NotificationsAPIClient(api_key, base_url=base_url, timeout=timeout)
        self.template_id, self.templates, self.reply_to_id = template_id, templates or {}, reply_to_id

    def send(self, message: OutboundEmail) -> None:
        link = next((w for w in message.body.split() if w.startswith(("http://", "https://"))), "")
        fields: dict[str, Any] = {
            "email_address": message.to,
            "template_id": self.templates.get(kind_of(message.key), self.template_id),
            "personalisation": {"subject": message.subject, "body": message.body, "link": link},
            "reference": message.key,
        }
        if self.reply_to_id:
            fields["email_reply_to_id"] = self.reply_to_id
        try:
            self.client.send_email_notification(**fields)
        except HTTPError as exc:
            if exc.status_code in (400, 403):
                raise Undeliverable(f"GOV.UK Notify refused it ({exc.status_code}): {exc.message}") from exc
            raise
