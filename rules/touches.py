"""Which customer-facing actions are valid touches, and how one action is recognised when seen twice."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rules.schema import TouchesFile

URL = re.compile(r"https?://[^\s<>\"'，。；！？、）》]+", re.IGNORECASE)
PDF_MAGIC = b"%PDF"
PDF_TYPE = "application/pdf"
TRACKING = ("utm_", "spm", "from", "isappinstalled")
MINUTE = timedelta(minutes=1)
# A meeting number as the platforms print it: 876-543-210, 869 1234 5678, 123456789 (9–11 digits).
MEETING_NUMBER = r"(?<!\d)\d{3}[ \-]?\d{3,4}[ \-]?\d{3,4}(?!\d)"
# What precedes the number in an invitation besides the platform's name: 会议号：, 会议 ID：, Meeting ID:.
NUMBER_LABELS = ("会议号", "会议 id", "会议id", "会议码", "meeting id")  # matched on lower-cased text


@dataclass(frozen=True)
class Sighting:
    """One action as a source saw it: `kind` is the event kind (text, link, file, image, meeting)."""

    kind: str
    text: str = ""
    url: str | None = None
    title: str | None = None
    filename: str | None = None
    content_type: str | None = None
    head: bytes | None = None  # the first bytes of a file, when the source had them


@dataclass(frozen=True)
class Verdict:
    kind: str  # product_link | meeting | pdf | file | visit | call | message
    valid: bool
    url: str | None = None
    filename: str | None = None

    def label(self, rules: TouchesFile) -> str:
        return rules.labels.get(self.kind, self.kind)


def urls_in(text: str) -> list[str]:
    return URL.findall(text or "")


def _host_in(url: str, domains: list[str]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in domains)


def _is_pdf(s: Sighting, rules: TouchesFile) -> bool:
    name = (s.filename or "").lower()
    if any(name.endswith("." + ext.lower()) for ext in rules.pdf_extensions):
        return True
    if s.head is not None:
        return s.head.startswith(PDF_MAGIC)
    return (s.content_type or "").split(";")[0].strip().lower() == PDF_TYPE


def classify(s: Sighting, rules: TouchesFile) -> Verdict:
    """A meeting, a product link or a PDF is a valid touch; other files and messages are kept but not valid."""

    def verdict(kind: str, **kw: str | None) -> Verdict:
        return Verdict(kind, kind in rules.valid_kinds, **kw)

    if s.kind == "meeting":
        return verdict("meeting", url=s.url)
    if s.kind in ("file", "image"):
        return verdict("pdf" if _is_pdf(s, rules) else "file", filename=s.filename)
    links = ([s.url] if s.url else []) + urls_in(s.text)
    for link in links:
        if _host_in(link, rules.meeting_domains):
            return verdict("meeting", url=link)
    if invitation_number(s.text, rules):
        return verdict("meeting")
    for link in links:
        if _host_in(link, rules.product_domains):
            return verdict("product_link", url=link)
    return verdict("message", url=links[0] if links else None)


def invitation_number(text: str, rules: TouchesFile) -> str | None:
    """The meeting number of an invitation pasted without its link (#腾讯会议：876-543-210, 钉钉/飞书/Zoom invitation
    text): a meeting platform is named and a meeting number follows its name or a number label."""
    folded = (text or "").lower().replace("：", ":")
    platforms = [p.lower() for p in rules.meeting_platforms]
    if not any(p in folded for p in platforms):
        return None
    cues = "|".join(re.escape(c) for c in sorted({*platforms, *NUMBER_LABELS}, key=len, reverse=True))
    found = re.search(rf"(?:{cues})[^\d\n]{{0,8}}?({MEETING_NUMBER})", folded)
    return re.sub(r"\D", "", found.group(1)) if found else None


def normalise_url(url: str) -> str:
    """Scheme and host lower-cased, fragment, trailing slash and tracking parameters dropped."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith(TRACKING)]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), urlencode(query), ""))


def _content_key(v: Verdict, s: Sighting) -> str:
    if v.url:
        return "u:" + normalise_url(v.url)
    if v.filename:
        return "f:" + v.filename.strip().lower()
    return "t:" + " ".join((s.text or s.title or "").split())


def fingerprints(rep_id: str, v: Verdict, s: Sighting, at: datetime) -> tuple[str, list[str]]:
    """(this action's fingerprint, those of the same action a minute either side).

    Rep + content + minute: the bot and the chat archive see one message with slightly
    different clocks, so a copy stamped in the neighbouring minute is the same action too.
    """
    key = _content_key(v, s)
    minute = at.astimezone(UTC).replace(second=0, microsecond=0)

    def one(instant: datetime) -> str:
        raw = f"{rep_id}|{key}|{instant.strftime('%Y%m%d%H%M')}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]

    return one(minute), [one(minute - MINUTE), one(minute), one(minute + MINUTE)]
