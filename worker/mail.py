"""Email adapters for the outbox. The worker picks one from settings; GOV.UK Notify can be added here.

- ``SmtpSender``: ``SMTP_URL=smtp://user:password@host:587`` (STARTTLS) or ``smtps://...:465``;
  ``smtp+plain://host:port`` speaks plain SMTP to a relay on the local machine or network (no TLS).
- ``FileSender``: the local debugging sink ``make run`` uses: one .eml file per message in
  ``var/mail/``, named by its outbox key, so a repeated send overwrites rather than duplicates.
"""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlparse

from engine.config import Settings
from engine.services.notifications import OutboundEmail, Sender


def _email(message: OutboundEmail, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = sender, message.to, message.subject
    # only dots and hyphens: the header parser cuts a msg-id at ':' (measured: it kept only '<task')
    email["Message-ID"] = f"<{re.sub(r'[^A-Za-z0-9.-]', '.', message.key)}@permanence-pathways>"
    email.set_content(message.body)
    return email


class FileSender:
    def __init__(self, directory: Path, sender: str) -> None:
        self.directory, self.sender = Path(directory), sender

    def send(self, message: OutboundEmail) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9.-]", "_", message.key) + ".eml"
        (self.directory / name).write_bytes(bytes(_email(message, self.sender)))


class SmtpSender:
    def __init__(self, url: str, sender: str, timeout: float = 20.0) -> None:
        self.url, self.sender, self.timeout = urlparse(url), sender, timeout

    def send(self, message: OutboundEmail) -> None:
        secure, plain = self.url.scheme == "smtps", self.url.scheme == "smtp+plain"
        port = self.url.port or (465 if secure else 25 if plain else 587)
        factory = smtplib.SMTP_SSL if secure else smtplib.SMTP
        with factory(self.url.hostname or "localhost", port, timeout=self.timeout) as smtp:
            if not secure and not plain and port != 25:
                smtp.starttls()
            if self.url.username:
                smtp.login(unquote(self.url.username), unquote(self.url.password or ""))
            smtp.send_message(_email(message, self.sender))


def sender_for(settings: Settings) -> Sender:
    if settings.smtp_url:
        return SmtpSender(settings.smtp_url, settings.mail_from)
    return FileSender(settings.mail_dir, settings.mail_from)
