"""One redaction for every client: a vendor's error text without request values or credentials.

Vendors echo what they were sent: Pipedrive's v2 validation 400s quote the field and often the
value, HighLevel's 422 ``message`` array names each offending property and value, Salesforce quotes
values in ``duplicate value found``/``invalid email address: ...`` and echoes SOQL literals, and
proxies in front of all of them may echo request headers (with the API token). Such text must not
reach the ledger's ``audit_event.error``, load reports, asset metadata, the Dagster event log or
stderr (ARCHITECTURE.md "PHI stays put"). A client therefore keeps the vendor's error *code* as is
and passes its *message* through :meth:`Redactor.scrub`, which

1. masks the client's credentials (the token it sends; ``Bearer ...``, ``api_token=...``,
   ``client_secret=...`` and alike patterns) as ``<redacted>``;
2. masks every value the request carried (JSON body, query parameters, form fields, file names;
   :class:`Echo`) as ``<value>``: the whole value case-insensitively, and each word of at least
   three letters or digits of it, so a name echoed in pieces goes too. Field *names* (the keys of
   the request) are kept: they say what is wrong;
3. masks what looks like patient data even when the request did not carry it (a vendor quoting
   another record): e-mail addresses, dates, SSN- and phone-shaped numbers;
4. collapses whitespace and caps the text at ``MAX_ERROR_CHARS`` (300) characters.

Over-masking is the safe side: a masked word in an error message costs a little clarity, a leaked
value costs a breach. Vendor-specific parts (which body fields hold the message, Salesforce's
message templates) stay in each vendor's ``errors`` module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flit_pipelines.http.errors import MAX_ERROR_CHARS

__all__ = ["MASK_SECRET", "MASK_VALUE", "Echo", "Redactor", "scrub"]

MASK_SECRET = "<redacted>"
MASK_VALUE = "<value>"
_MIN_VALUE_CHARS = 2
_MIN_WORD_CHARS = 3
_TRIVIAL = frozenset({"true", "false", "null", "none", "nan", "#n/a"})
_WORD = re.compile(r"[^\W_]{%d,}" % _MIN_WORD_CHARS)

# credentials: the name stays (it says what was wrong), the value goes
_SECRET_PATTERNS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {MASK_SECRET}"),
    (re.compile(r"(?i)\b(api[_-]?token|api[_-]?key|x-api-token|x-practicehub-key|access[_-]?token|refresh[_-]?token"
                r"|client[_-]?secret|client[_-]?id|password|passwd|session[_-]?id|authorization|sid)"
                r"([\"']?\s*[:=]\s*[\"']?)(?!(?:bearer|basic)\s)(?!<redacted>)([^\s\"',;&}\]]+)"), rf"\1\2{MASK_SECRET}"),
]
# patient-shaped values a vendor may quote from records we never sent
_PHI_PATTERNS = [
    (re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"), "<date>"),
    (re.compile(r"\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b"), "<date>"),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "<number>"),
    (re.compile(r"(?<![\w+])\+?\(?\d{1,3}\)?[\s.-]?\(?\d{3}\)?[\s.-]\d{3}[\s.-]?\d{4}\b"), "<phone>"),
]


@dataclass(frozen=True)
class Echo:
    """What a request carried, for masking: the text of every leaf ``values`` and every ``keys``.

    Build it with :meth:`of` from the request's parts (JSON body, params, form data, files).
    """

    values: frozenset[str] = field(default_factory=frozenset)
    keys: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, *parts: Any) -> Echo:
        """Collect leaf values and keys of ``parts``: mappings (keys kept, values walked), lists,
        tuples (a ``files`` entry ``(name, content, type)``: bytes are skipped), scalars. None
        and booleans are not values."""
        values: set[str] = set()
        keys: set[str] = set()

        def walk(node: Any) -> None:
            if node is None or isinstance(node, bool):
                return
            if isinstance(node, Mapping):
                for k, v in node.items():
                    keys.add(str(k))
                    walk(v)
            elif isinstance(node, (list, tuple, set, frozenset)):
                for v in node:
                    walk(v)
            elif isinstance(node, (bytes, bytearray, memoryview)) or hasattr(node, "read"):
                return  # file content / streams: never echoed as text we could match anyway
            else:
                values.add(str(node))

        for part in parts:
            walk(part)
        return cls(frozenset(values), frozenset(keys))

    def __bool__(self) -> bool:
        return bool(self.values)


class Redactor:
    """Scrubs vendor error text for one client (see the module docstring).

    Args:
        secrets: the client's credentials (API token, client secret, ...), masked wherever they
            appear. Empty strings are ignored.

    Thread-safe (immutable after construction, except ``add_secret``, which only grows a tuple).
    """

    def __init__(self, secrets: Iterable[str | None] = ()):
        self._secrets: tuple[str, ...] = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def add_secret(self, secret: str | None) -> None:
        """Also mask ``secret`` from now on (a refreshed access token)."""
        if secret:
            self._secrets = tuple(sorted({*self._secrets, secret}, key=len, reverse=True))

    def scrub(self, text: Any, echo: Echo | None = None, *, max_chars: int = MAX_ERROR_CHARS) -> str:
        """``text`` with credentials, request values and patient-shaped values masked, whitespace
        collapsed, at most ``max_chars`` characters."""
        return scrub(text, echo, secrets=self._secrets, max_chars=max_chars)


def scrub(text: Any, echo: Echo | None = None, *, secrets: Iterable[str] = (),
          max_chars: int = MAX_ERROR_CHARS) -> str:
    """The module's redaction as a function: ``text`` (any value; None -> ``""``) without
    ``secrets``, without the values of ``echo``, without patient-shaped values, capped."""
    out = " ".join(str(text if text is not None else "").split())
    for secret in secrets:
        if secret and secret in out:
            out = out.replace(secret, MASK_SECRET)
    for pattern, repl in _SECRET_PATTERNS:
        out = pattern.sub(repl, out)
    if echo:
        out = _mask_values(out, echo)
    for pattern, repl in _PHI_PATTERNS:
        out = pattern.sub(repl, out)
    return out[:max_chars]


def _mask_values(text: str, echo: Echo) -> str:
    keys = {k.lower() for k in echo.keys}
    whole: set[str] = set()
    words: set[str] = set()
    for value in echo.values:
        v = value.strip()
        if len(v) < _MIN_VALUE_CHARS or v.lower() in _TRIVIAL or v.lower() in keys:
            continue
        whole.add(v)
        words.update(w for w in _WORD.findall(v) if w.lower() not in keys and w.lower() not in _TRIVIAL)
    for group in (whole, words):
        if not group:
            continue
        alternatives = "|".join(re.escape(v) for v in sorted(group, key=len, reverse=True))
        text = re.sub(rf"(?<!\w)(?:{alternatives})(?!\w)", MASK_VALUE, text, flags=re.IGNORECASE)
    return text
