"""Log lines that user text cannot forge: control, format and line-separator characters in a
formatted message are written as escapes (``\\n`` → ``\\x0a``), so a name or URL path holding
``"\\nINFO: ... 200"`` stays on its own line. Tracebacks (``exc_info``) keep their newlines."""

from __future__ import annotations

import logging
import unicodedata

__all__ = ["SafeFormatter", "escape"]

_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def escape(text: str) -> str:
    """``text`` with every control/format/separator character written as ``\\xNN`` or ``\\uNNNN``."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if unicodedata.category(ch) in _UNSAFE:
            o = ord(ch)
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out)


class SafeFormatter(logging.Formatter):
    """A :class:`logging.Formatter` whose message part is :func:`escape`-d."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return escape(super().formatMessage(record))
