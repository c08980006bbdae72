"""Email over SMTP: text and HTML alternatives, an .ics invitation attached when there is
one, and a Message-ID made from the idempotency key (so a mail system that sees the same
message twice can tell)."""
from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from urllib.parse import unquote, urlsplit

from score_notifications.sms import Outcome


@dataclass(frozen=True)
class Email:
    key: str
    to: str
    to_name: str
    subject: str
    text: str
    html: str
    ics: bytes | None = None
    ics_method: str = "REQUEST"


def build(email: Email, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((email.to_name, email.to)) if email.to_name else email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{email.key}@score.ilo.org>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    if email.ics:
        message.add_attachment(email.ics, maintype="text", subtype="calendar",
                               filename="score-workshop.ics",
                               params={"method": email.ics_method})
    return message


class SmtpMail:
    def __init__(self, url: str, sender: str, timeout: float = 20.0):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls"):
            raise ValueError(f"SCORE_SMTP_URL must be smtp://, smtps:// or smtp+starttls://, "
                             f"got {url!r}")
        self.scheme, self.host = parts.scheme, parts.hostname or "127.0.0.1"
        self.port = parts.port or {"smtp": 25, "smtps": 465, "smtp+starttls": 587}[parts.scheme]
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout

    def _connect(self) -> smtplib.SMTP:
        if self.scheme == "smtps":
            connection = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout)
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.scheme == "smtp+starttls":
                connection.starttls()
        if self.user:
            connection.login(self.user, self.password or "")
        return connection

    def send_many(self, emails: list[Email], before_each=None) -> dict[str, Outcome]:
        """Send on one connection. `before_each(email)` runs just before the mail server is
        given a message (the dispatcher marks it as being transmitted)."""
        outcomes: dict[str, Outcome] = {}
        if not emails:
            return outcomes
        try:
            connection = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            return {e.key: Outcome("transient", f"mail server unreachable: {exc}")
                    for e in emails}
        try:
            for email in emails:
                if before_each is not None:
                    before_each(email)
                try:
                    refused = connection.send_message(build(email, self.sender))
                except smtplib.SMTPRecipientsRefused as exc:
                    code, reply = next(iter(exc.recipients.values()))
                    outcomes[email.key] = Outcome(
                        "permanent" if code >= 500 else "transient",
                        f"{code} {reply.decode(errors='replace')}")
                    continue
                except smtplib.SMTPResponseException as exc:
                    outcomes[email.key] = Outcome(
                        "permanent" if exc.smtp_code >= 500 else "transient",
                        f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}")
                    if exc.smtp_code in (421,):
                        break
                    continue
                except (OSError, smtplib.SMTPException) as exc:
                    # the server may or may not have taken it: never risk a second copy
                    outcomes[email.key] = Outcome("doubt", f"connection lost while the mail "
                                                           f"server took it: {exc}")
                    break
                outcomes[email.key] = Outcome("accepted", "") if not refused else Outcome(
                    "permanent", str(refused))
        finally:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                pass
        for email in emails:
            outcomes.setdefault(email.key, Outcome("transient", "not tried: the connection "
                                                                "was lost"))
        return outcomes
