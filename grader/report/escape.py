"""Escaping of everything a student controls, for each place staff read it.

A student chooses file names, student ids (notebook metadata), exception class names
and messages, figure labels and printed text. Before any of it reaches staff:

* :func:`csv_cell`: a spreadsheet must not run it. A text cell starting with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return gets a leading ``'`` (OWASP's advice), so
  ``=2+5`` is shown, not computed;
* :func:`terminal_text`: a terminal must not obey it. Control characters (ESC sequences
  that recolour, move the cursor or set the window title; C1 controls; DEL) and the
  Unicode bidirectional overrides that reorder a line become visible ``\\x1b``-style
  escapes; newlines and tabs stay;
* :func:`xml_text`: an XML file must stay valid. Characters XML 1.0 forbids (most C0
  controls, lone surrogates, U+FFFE/U+FFFF) become ``\\x..``-style text;
* :func:`file_name` / :func:`student_id`: one file name per student id, distinct for
  distinct ids and reversible (see docs/GRADEBOOK.md, "Export file names").
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

__all__ = ["csv_cell", "csv_frame", "terminal_text", "clean_strings", "xml_text", "file_name", "student_id"]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# C0 controls except tab and newline, DEL, C1 controls, bidirectional overrides and isolates.
_TERMINAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What XML 1.0 allows: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SAFE_NAME = re.compile(r"[A-Za-z0-9._@-]")
MAX_NAME = 150  # characters of an encoded file name before it is shortened with a hash


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def csv_cell(value: Any) -> Any:
    """``value`` for a CSV cell: text a spreadsheet would read as a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_frame(frame: Any) -> Any:
    """A copy of a pandas DataFrame with every text cell (and column name) passed through :func:`csv_cell`."""
    out = frame.copy()
    for column in out.columns:
        if getattr(out[column].dtype, "kind", "O") not in "biufc":  # text: object or a string dtype
            out[column] = out[column].map(csv_cell)
    out.columns = [csv_cell(str(c)) for c in out.columns]
    return out


def terminal_text(text: str) -> str:
    """``text`` with control characters shown as escapes, so a terminal prints, never obeys, them."""
    return _TERMINAL.sub(_visible, text)


def clean_strings(value: Any) -> Any:
    """``value`` (plain data: dicts, lists, strings) with :func:`terminal_text` applied to every string."""
    if isinstance(value, str):
        return terminal_text(value)
    if isinstance(value, dict):
        return {clean_strings(k): clean_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(clean_strings(v) for v in value)
    return value


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (shown as escapes); ElementTree escapes the rest."""
    return _NOT_XML.sub(_visible, text)


def file_name(student: str) -> str:
    """A file name (without extension) for ``student``: distinct ids get distinct names.

    Letters, digits and ``. _ @ -`` stay; every other character, ``~`` included, becomes
    ``~`` and two hex digits per UTF-8 byte (``alice~smith`` -> ``alice~7esmith``,
    ``alice_smith`` stays), so :func:`student_id` reverses it. A leading ``.`` is encoded
    too (no hidden files, no ``..``). An encoded name longer than 150 characters keeps its
    first 120 and ends in ``~~`` and 16 hex digits of the id's SHA-256: still distinct,
    no longer reversible."""
    if not student:
        return "~"
    parts = []
    for i, char in enumerate(student):
        if _SAFE_NAME.fullmatch(char) and not (i == 0 and char == "."):
            parts.append(char)
        else:
            parts.append("".join(f"~{b:02x}" for b in char.encode("utf-8", "surrogatepass")))
    name = "".join(parts)
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        name = name[:120] + "~~" + digest
    return name


def student_id(name: str) -> str | None:
    """The student id :func:`file_name` encoded as ``name``; None for a shortened name."""
    if name == "~":
        return ""
    if "~~" in name:
        return None
    raw = bytearray()
    i = 0
    while i < len(name):
        if name[i] == "~":
            raw += bytes.fromhex(name[i + 1:i + 3])
            i += 3
        else:
            raw += name[i].encode("ascii")
            i += 1
    return raw.decode("utf-8", "surrogatepass")
