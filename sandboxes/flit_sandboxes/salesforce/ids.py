"""Salesforce record Ids: key prefixes, the 15-character base and the 18-character form.

Notes §8 item 8 and §6: an Id is a 3-character key prefix (Contact ``003``, User ``005``, Task ``00T``,
Event ``00U``, ContentVersion ``068``, ContentDocument ``069``, CustomField ``00N``, CustomObject ``01I``,
Bulk job ``750``; custom objects ``a..`` per org) plus 12 characters, then a 3-character suffix encoding
the case of the first 15 characters, so the 18-character form compares case-insensitively.

The sandbox's 12 characters are ``"Sb"`` (a fake pod) + ``"0"`` + a 9-digit base-62 sequence number
(UNCONFIRMED layout; only the prefix and the checksum are meaningful to clients). Prefixes of objects
the notes do not list (ContentDocumentLink ``06A``, PermissionSet ``0PS``, ...) are the common
real-org values, UNCONFIRMED.
"""

from __future__ import annotations

import re
import threading

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")

STANDARD_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "User": "005",
    "Organization": "00D",
    "Task": "00T",
    "Event": "00U",
    "ContentVersion": "068",
    "ContentDocument": "069",
    "ContentDocumentLink": "06A",
    "PermissionSet": "0PS",
    "PermissionSetAssignment": "0Pa",
    "FieldPermissions": "01k",
    "ObjectPermissions": "110",
    "CustomObject": "01I",
    "CustomField": "00N",
}
JOB_PREFIX = "750"
QUERY_LOCATOR_PREFIX = "01g"
FIRST_CUSTOM_PREFIX_INDEX = 33  # base-62 "0X": the first custom object gets "a0X"


def suffix(base15: str) -> str:
    """The 3-character case checksum of a 15-character Id."""
    out = []
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(base15[chunk * 5:chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        out.append(_SUFFIX_ALPHABET[bits])
    return "".join(out)


def to18(base15: str) -> str:
    """The 18-character form of a 15-character Id."""
    return base15 + suffix(base15)


def normalize(value: str) -> str | None:
    """The canonical 18-character Id for a 15- or 18-character Id string, or None if malformed.

    An 18-character Id is case-insensitive: its suffix restores the case of the first 15 characters.
    """
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    if len(value) == 15:
        return to18(value)
    base = list(value[:15])
    for chunk, char in enumerate(value[15:].upper()):
        bits = _SUFFIX_ALPHABET.find(char)
        if bits < 0:
            return None
        for position in range(5):
            index = chunk * 5 + position
            base[index] = base[index].upper() if bits & (1 << position) else base[index].lower()
    return to18("".join(base))


def looks_like_id(value: object) -> bool:
    """True if ``value`` is a 15- or 18-character alphanumeric string."""
    return isinstance(value, str) and bool(_ID_RE.match(value))


def base62(number: int, width: int) -> str:
    """``number`` in base 62, left-padded with zeros to ``width`` characters."""
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def custom_prefix(index: int) -> str:
    """Key prefix of the ``index``-th custom object (0 -> ``a0X``, 1 -> ``a0Y``, ...)."""
    return "a" + base62(FIRST_CUSTOM_PREFIX_INDEX + index, 2)


class IdSequence:
    """Thread-safe generator of new Ids; ``value``/``restore`` persist the counter."""

    def __init__(self, start: int = 0):
        self._lock = threading.Lock()
        self._next = start

    def new(self, prefix: str) -> str:
        """A new 18-character Id with ``prefix``."""
        with self._lock:
            self._next += 1
            number = self._next
        return to18(prefix + "Sb0" + base62(number, 9))

    @property
    def value(self) -> int:
        """The last number handed out."""
        with self._lock:
            return self._next

    def restore(self, value: int) -> None:
        """Continue after ``value`` (never goes backwards)."""
        with self._lock:
            self._next = max(self._next, value)
