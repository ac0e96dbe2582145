"""Text from outside (scanner output, image metadata, event fields) made safe for the medium it goes to.

Such text is data: it must never become a line break that forges a block, a control sequence a terminal obeys, a
mention that pages a channel, markup that changes what is shown or a link someone clicks. Every writer goes through
one of these, and every one of them bounds the size:

- `plain`: one line for e-mail plain text and the terminal - control and format characters (ANSI escapes, C1,
  bidirectional overrides, zero-width characters), line breaks and lone surrogates removed or replaced; a URL is
  defanged (`https[:]//...`) so that no mail client or terminal makes it a link.
- `chat`: the same, then AWS Chatbot's client-markdown (Slack, Teams, Chime): `& < >` as entities, so `<!channel>`
  or `<https://x|y>` stay text; `@` as a full-width `＠`, so `@here` pages no one; `` ` * _ ~ `` as look-alikes.
- `chat_code`: a value in a chat code span, where `*_~|` are shown as typed and no URL is made a link; a backtick,
  which would end the span, becomes `ʹ`.
- `advisory_link`: a link we may print as a link: https, no credentials or port, on the allow-list of advisory hosts.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

ELLIPSIS = "..."
# Characters that are not text: controls (C0, C1, DEL), format characters (bidi overrides, zero-width joiners and
# spaces, the BOM), lone surrogates, private-use and unassigned code points; line and paragraph separators.
_NOT_TEXT_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SCHEME_SEPARATOR = re.compile(r"(?i)([a-z][a-z0-9+.-]{0,31}):(/|\\){2}")
# Schemes a client may run or open without `//` (javascript:alert(1), data:text/html,...).
_BARE_SCHEME = re.compile(r"(?i)\b(javascript|vbscript|data|file|mailto|tel):")
_WHITESPACE = re.compile(r"\s+")
MAX_LINK_CHARACTERS = 2000
# Where scanners' advisories live (Inspector's sourceUrl/referenceUrls, basic scanning's uri): a link to any other
# host, or over anything but https, is printed as defanged text.
ADVISORY_HOSTS = frozenset(
    {
        "nvd.nist.gov",
        "cve.mitre.org",
        "www.cve.org",
        "cve.org",
        "github.com",
        "osv.dev",
        "access.redhat.com",
        "security-tracker.debian.org",
        "ubuntu.com",
        "alas.aws.amazon.com",
        "explore.alas.aws.amazon.com",
        "security.alpinelinux.org",
        "www.suse.com",
        "linux.oracle.com",
        "errata.almalinux.org",
        "errata.rockylinux.org",
        "pkg.go.dev",
        "rustsec.org",
        "www.openwall.com",
        "bugzilla.redhat.com",
        "security.gentoo.org",
        "www.debian.org",
    }
)
# Hosts whose subdomains are advisory hosts too (ubuntu.com: www.ubuntu.com, ubuntu.com/security/...).
ADVISORY_DOMAINS = ("ubuntu.com", "nist.gov", "debian.org", "redhat.com", "suse.com")
CHAT_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Outside a code span, markup characters become look-alikes that mark nothing up (no code, bold, strike, italics).
CHAT_MARKUP = {"`": "\u02b9", "*": "\u2217", "~": "\u223c", "_": "\u02cd"}


def well_formed(text: str) -> str:
    """`text` that encodes to UTF-8: a lone surrogate (`\\ud800`, which a JSON document may carry) becomes U+FFFD."""
    if not _has_surrogate(text):
        return text
    return "".join("\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in text)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def bounded(text: str, limit: int) -> str:
    """At most `limit` characters: a longer text keeps its start and says it was cut."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return text[:limit]
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def _one_line(text: str) -> str:
    if not text.isprintable():  # printable: none of _NOT_TEXT_CATEGORIES, and no white space but the space
        text = "".join(
            " " if unicodedata.category(char) in _NOT_TEXT_CATEGORIES else char for char in well_formed(text)
        )
    return _WHITESPACE.sub(" ", text).strip()


def defanged(text: str) -> str:
    """Every `scheme://` written `scheme[:]//` (and `javascript:` as `javascript[:]`): readable, never a link a
    client makes clickable."""
    if ":" not in text:
        return text
    text = _SCHEME_SEPARATOR.sub(lambda match: f"{match.group(1)}[:]//", text)
    return _BARE_SCHEME.sub(lambda match: f"{match.group(1)}[:]", text)


def plain(text: str, limit: int) -> str:
    """One line of plain text (e-mail, terminal): no control sequence, line break or link; at most `limit` chars."""
    head = text[: 4 * limit + 8]  # what can be shown (collapsed white space included): not 100 KB cleaned to cut
    cleaned = defanged(_one_line(head))
    if len(head) < len(text):
        cleaned += ELLIPSIS
    return bounded(cleaned, limit)


def _chat_inert(text: str, limit: int) -> str:
    escaped = "".join(CHAT_ENTITIES.get(char, char) for char in plain(text, limit))
    return escaped.replace("@", "\uff20")


def chat(text: str, limit: int) -> str:
    """Text for chat client-markdown: no mention, link, markup, entity or line break."""
    return "".join(CHAT_MARKUP.get(char, char) for char in _chat_inert(text, limit))


def chat_code(text: str, limit: int) -> str:
    """A value as a chat code span (`*_~|` shown as typed, no link made); empty text stays empty."""
    value = _chat_inert(text, limit).replace("`", CHAT_MARKUP["`"])
    return f"`{value}`" if value else ""


def advisory_link(url: str) -> str | None:
    """`url` when it may be printed as a link: https on an advisory host, no credentials, no port; else None."""
    if not url or len(url) > MAX_LINK_CHARACTERS or not url.isprintable() or " " in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or parts.username or parts.password or port not in (None, 443) or "\\" in url:
        return None
    if host in ADVISORY_HOSTS or any(host.endswith(f".{domain}") for domain in ADVISORY_DOMAINS):
        return url
    return None
