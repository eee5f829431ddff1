"""The identity names a gallery accepts.

A name is what people read in lists, logs, URLs (``/v1/identities/{name}``) and file exports, so it
must look like what it is. Allowed: any Unicode text in NFC form, 1–200 characters after trimming
the ends, without

* control characters (category Cc: NUL, newline, tab, escape, DEL, C1 controls) — a newline in a
  name could forge log lines;
* format characters (Cf: bidirectional overrides such as U+202E, zero-width joiners/spaces, soft
  hyphen) — they make a name display as another;
* surrogates (Cs, only possible as lone surrogates), private-use (Co) and unassigned (Cn) code
  points;
* ``/`` — a name holding it could be enrolled but never addressed as one URL path segment;
* line and paragraph separators (Zl, Zp).

Names are compared after NFC normalisation, so ``"José"`` typed either way is one person.
"""

from __future__ import annotations

import unicodedata

from faceprint.errors import InvalidInput

__all__ = ["MAX_NAME_LENGTH", "validate_name"]

MAX_NAME_LENGTH = 200
_REFUSED_CATEGORIES = {
    "Cc": "a control character",
    "Cf": "a format (invisible or bidirectional) character",
    "Cs": "a lone surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def validate_name(name: object) -> str:
    """``name`` in NFC form with its ends trimmed, or :class:`InvalidInput` saying what is wrong."""
    if not isinstance(name, str):
        raise InvalidInput(f"identity name must be a string, got {type(name).__name__}")
    for i, ch in enumerate(name):  # before normalising: NFC itself fails on lone surrogates
        cat = unicodedata.category(ch)
        if cat in _REFUSED_CATEGORIES:
            raise InvalidInput(f"identity name holds {_REFUSED_CATEGORIES[cat]} (U+{ord(ch):04X}) at position {i}")
        if ch == "/":
            raise InvalidInput(f"identity name may not hold '/' (position {i})")
    out = unicodedata.normalize("NFC", name).strip()
    if not out:
        raise InvalidInput("identity name must not be empty")
    if len(out) > MAX_NAME_LENGTH:
        raise InvalidInput(f"identity name is limited to {MAX_NAME_LENGTH} characters, got {len(out)}")
    return out
