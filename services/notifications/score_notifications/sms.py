"""SMS: length and encoding, and the provider adapter (Infobip's SMS API over HTTP).

A text in the GSM 03.38 alphabet goes as GSM-7: 160 characters in one segment, 153 per
segment when split (the extension characters count twice). Any other character (an emoji,
a curly quote) makes the whole text UCS-2: 70, then 67 per segment. Each segment is billed.

The adapter sends our idempotency key as Infobip's messageId, so delivery reports and the
log lookup after a crash name messages by our own key.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import requests

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = set("^{}\\[~]|€\f")


def encoding(text: str) -> str:
    return "GSM-7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "UCS-2"


def segments(text: str) -> int:
    if encoding(text) == "GSM-7":
        septets = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


@dataclass(frozen=True)
class Outcome:
    """What became of one send: accepted, or failed transiently (try again) or permanently."""

    status: str  # accepted | transient | permanent | doubt (may have gone: never resend)
    detail: str = ""


# Infobip's status groups (delivery reports and send responses).
DELIVERED_GROUPS = {"DELIVERED"}
PENDING_GROUPS = {"PENDING", "ACCEPTED"}
FAILED_GROUPS = {"UNDELIVERABLE", "EXPIRED", "REJECTED"}


class InfobipSms:
    """Infobip's SMS API: POST /sms/2/text/advanced to send, GET /sms/1/logs to look a
    message up, JSON delivery reports and inbound messages pushed to our callbacks."""

    def __init__(self, base_url: str, api_key: str, sender: str, notify_url: str | None,
                 timeout: float = 15.0):
        self.base_url = base_url.rstrip("/")
        self.sender = sender
        self.notify_url = notify_url
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"App {api_key}",
                                     "Accept": "application/json"})

    def send_many(self, messages: list[tuple[str, str, str]]) -> dict[str, Outcome]:
        """Send (message id, E.164 number, text) triples in one request."""
        if not messages:
            return {}
        body = {"messages": [{
            "from": self.sender, "text": text,
            "destinations": [{"to": to.lstrip("+"), "messageId": message_id}],
            **({"notifyUrl": self.notify_url, "notifyContentType": "application/json"}
               if self.notify_url else {})} for message_id, to, text in messages]}
        try:
            response = self.session.post(f"{self.base_url}/sms/2/text/advanced", json=body,
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            return {m[0]: Outcome("transient", f"provider unreachable: {exc}") for m in messages}
        if response.status_code == 400:
            detail = _error_text(response)
            return {m[0]: Outcome("permanent", f"provider refused the request: {detail}")
                    for m in messages}
        if response.status_code != 200:
            # 401/403 are our configuration, 429 and 5xx the provider's load: not the
            # message's fault, so it waits for a retry.
            detail = f"HTTP {response.status_code}: {_error_text(response)}"
            return {m[0]: Outcome("transient", detail) for m in messages}
        outcomes = {}
        for sent in response.json().get("messages", []):
            group = (sent.get("status") or {}).get("groupName", "")
            description = (sent.get("status") or {}).get("description", group)
            outcomes[sent.get("messageId")] = Outcome(
                "permanent" if group in FAILED_GROUPS else "accepted", description)
        for message_id, _, _ in messages:
            outcomes.setdefault(message_id, Outcome("transient", "missing from the answer"))
        return outcomes

    def lookup(self, message_id: str) -> str | None:
        """The status group the provider has for a message, None if it never got it."""
        response = self.session.get(f"{self.base_url}/sms/1/logs",
                                    params={"messageId": message_id}, timeout=self.timeout)
        response.raise_for_status()
        results = response.json().get("results", [])
        return results[0]["status"]["groupName"] if results else None

    def close(self) -> None:
        self.session.close()


def _error_text(response) -> str:
    try:
        error = response.json()["requestError"]["serviceException"]
        return error.get("text") or error.get("messageId") or response.text[:200]
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


def delivery_reports(body: dict) -> list[dict]:
    """An Infobip delivery report push as [{message_id, group, description, permanent}]."""
    reports = []
    for result in body.get("results", []):
        status, error = result.get("status") or {}, result.get("error") or {}
        reports.append({
            "message_id": result["messageId"], "group": status.get("groupName", ""),
            "description": status.get("description") or status.get("name", ""),
            "error": error.get("description") if error.get("id") else None,
            "done_at": result.get("doneAt")})
    return reports


STOP_WORDS = {"STOP", "BERHENTI", "UNSUBSCRIBE", "UNREG"}
START_WORDS = {"START", "MULAI", "REG"}


def inbound_messages(body: dict) -> list[dict]:
    """Inbound SMS pushed by Infobip as [{from, text, keyword}]: keyword STOP or START when
    the text asks to stop or resume reminders (in Bahasa Indonesia or English)."""
    found = []
    for result in body.get("results", []):
        text = (result.get("cleanText") or result.get("text") or "").strip()
        word = text.split()[0].upper() if text else ""
        keyword = "STOP" if word in STOP_WORDS else "START" if word in START_WORDS else None
        found.append({"from": "+" + str(result["from"]).lstrip("+"), "text": text,
                      "keyword": keyword})
    return found
