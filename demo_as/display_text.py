"""Strings from clients that a page shows must read as what they are (issue #12.7).

Unicode TR #36 §2.1 ("bidirectional text spoofing"): a right-to-left override (U+202E), an
isolate (U+2066-U+2069), a zero-width character (U+200B) or a NUL can make a consent heading read
backwards or hide part of it. RFC 7591 §2 says ``client_name`` is "displayed to the end-user", and
RFC 7591 §5 asks the AS to guard what it displays. Two rules, one module:

* registration refuses such characters in ``client_name`` (``first_spoofing_character``);
* every page neutralises them in every value it renders (``neutralise``, installed as the Jinja
  ``finalize`` hook in pages.py), so strings from elsewhere (an echoed query parameter, a client
  metadata document) are covered too.
"""

from __future__ import annotations

import unicodedata

# Cc control, Cf format (bidi controls, zero-width, BOM), Zl/Zp line and paragraph separators,
# Cs lone surrogates (not even encodable as UTF-8).
SPOOFING_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
HARMLESS = frozenset("\t\n\r")  # ordinary whitespace in HTML


def is_spoofing_character(character: str) -> bool:
    return character not in HARMLESS and unicodedata.category(character) in SPOOFING_CATEGORIES


def code_point(character: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``, or just ``U+0001`` for unnamed characters."""
    name = unicodedata.name(character, "")
    return f"U+{ord(character):04X}" + (f" {name}" if name else "")


def first_spoofing_character(text: str) -> str | None:
    """Why ``text`` may not be shown as a name, or None (TR #36 §2.1)."""
    for position, character in enumerate(text):
        if is_spoofing_character(character):
            return (
                f"{code_point(character)} at position {position}: control and formatting "
                "characters can make the consent page read differently (Unicode TR #36 §2.1)"
            )
    return None


def neutralise(text: str) -> str:
    """``text`` with every spoofing character replaced by a visible ``[U+XXXX]``."""
    if not any(is_spoofing_character(c) for c in text):
        return text
    return "".join(f"[U+{ord(c):04X}]" if is_spoofing_character(c) else c for c in text)
