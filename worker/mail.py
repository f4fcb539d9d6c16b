"""Email adapters for the outbox. The worker picks one from settings.

- ``SmtpSender``: ``SMTP_URL=smtp://user:password@host:587`` (STARTTLS) or ``smtps://...:465``;
  ``smtp+plain://host:port`` speaks plain SMTP to a relay on the local machine or network (no TLS).
- ``FileSender``: the local debugging sink ``make run`` uses: one .eml file per message in
  ``var/mail/``, named by its outbox key, so a repeated send overwrites rather than duplicates.
"""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape
from pathlib import Path
from urllib.parse import unquote, urlparse

from engine import clock
from engine.config import Settings
from engine.services.notifications import OutboundEmail, Sender


def _email(message: OutboundEmail, sender: str, domain: str) -> EmailMessage:
    """An RFC 5322 message: Date, a Message-ID on the service's mail domain (the outbox key, so a
    repeat after a crash is recognisable), marked as sent automatically (RFC 3834, and Exchange's
    own header, so no out-of-office replies), with a plain-text and a GOV.UK-style HTML part."""
    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = sender, message.to, message.subject
    email["Date"] = format_datetime(clock.utcnow())
    # only dots and hyphens: the header parser cuts a msg-id at ':' (measured: it kept only '<task')
    email["Message-ID"] = f"<{re.sub(r'[^A-Za-z0-9.-]', '.', message.key)}@{domain}>"
    email["Auto-Submitted"] = "auto-generated"
    email["X-Auto-Response-Suppress"] = "All"
    email.set_content(message.body + FOOTER_TEXT)
    email.add_alternative(_html(message), subtype="html")
    return email


SERVICE = "Permanence Pathways"
FOOTER_TEXT = "\n--\nSent automatically by Permanence Pathways. Do not reply to this email.\n"
_LINK = re.compile(r"https?://[^\s<>\"]+")


def _html(message: OutboundEmail) -> str:
    """The body in GOV.UK's email style (Notify's layout): a black header bar with the service name,
    19px Helvetica/Arial text, blue links; each line a paragraph, each web address a link."""
    paragraphs = []
    for line in message.body.splitlines():
        if not line.strip():
            continue
        parts, at = [], 0
        for found in _LINK.finditer(line):
            url = found.group(0)
            parts.append(escape(line[at : found.start()]))
            parts.append(f'<a href="{escape(url)}" style="color:#1d70b8;text-decoration:underline">{escape(url)}</a>')
            at = found.end()
        parts.append(escape(line[at:]))
        paragraphs.append(f'<p style="margin:0 0 20px 0">{"".join(parts)}</p>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(message.subject)}</title></head>\n"
        '<body style="margin:0;padding:0;background:#ffffff;font-family:Helvetica,Arial,sans-serif;'
        'font-size:19px;line-height:25px;color:#0b0c0c">\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse">'
        '<tr><td style="background:#0b0c0c;padding:10px 15px;border-bottom:10px solid #1d70b8">'
        f'<span style="font-size:24px;line-height:30px;font-weight:700;color:#ffffff">{SERVICE}</span></td></tr>\n'
        '<tr><td style="padding:30px 15px 10px 15px;max-width:580px">'
        f'<h1 style="margin:0 0 20px 0;font-size:27px;line-height:32px;font-weight:700">{escape(message.subject)}</h1>'
        + "\n".join(paragraphs)
        + '<p style="margin:30px 0 0 0;font-size:16px;line-height:20px;color:#505a5f">Sent automatically by '
        f"{SERVICE}. Do not reply to this email.</p></td></tr></table>\n</body></html>\n"
    )


def _domain(sender: str, domain: str | None) -> str:
    return domain or (sender.rsplit("@", 1)[1].strip(" >") if "@" in sender else "pathways.local")


class FileSender:
    def __init__(self, directory: Path, sender: str, domain: str | None = None) -> None:
        self.directory, self.sender, self.domain = Path(directory), sender, _domain(sender, domain)

    def send(self, message: OutboundEmail) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9.-]", "_", message.key) + ".eml"
        (self.directory / name).write_bytes(bytes(_email(message, self.sender, self.domain)))


class SmtpSender:
    def __init__(self, url: str, sender: str, timeout: float = 20.0, domain: str | None = None) -> None:
        self.url, self.sender, self.timeout = urlparse(url), sender, timeout
        self.domain = _domain(sender, domain)

    def send(self, message: OutboundEmail) -> None:
        secure, plain = self.url.scheme == "smtps", self.url.scheme == "smtp+plain"
        port = self.url.port or (465 if secure else 25 if plain else 587)
        factory = smtplib.SMTP_SSL if secure else smtplib.SMTP
        with factory(self.url.hostname or "localhost", port, timeout=self.timeout) as smtp:
            if not secure and not plain and port != 25:
                smtp.starttls()
            if self.url.username:
                smtp.login(unquote(self.url.username), unquote(self.url.password or ""))
            smtp.send_message(_email(message, self.sender, self.domain))


def sender_for(settings: Settings) -> Sender:
    """GOV.UK Notify when ``NOTIFY_API_KEY`` is set, else SMTP when ``SMTP_URL`` is, else files."""
    if settings.notify_api_key:
        from worker.notify import NotifySender, parse_templates

        return NotifySender(settings.notify_api_key, settings.notify_template_id,
                            parse_templates(settings.notify_templates), settings.notify_base_url,
                            settings.notify_reply_to_id)  # fmt: skip
    if settings.smtp_url:
        return SmtpSender(settings.smtp_url, settings.mail_from, domain=settings.mail_domain)
    return FileSender(settings.mail_dir, settings.mail_from, domain=settings.mail_domain)
