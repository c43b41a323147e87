"""How a CSV file is written, torch-free: its field separator (`data.sep`, by default read off the
header: `,`, `;`, tab or `|`) and its text encoding (`data.encoding`, UTF-8 by default).

A header without a comma that holds one of the others is taken to be separated by it (the one it
holds most of), and the run says so in one line; a header with a comma is comma-separated.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from experiments.errors import ConfigError, DataError

SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
ALIASES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
AUTO = "auto"


def check_sep(sep: object) -> str:
    """`data.sep` as the character pandas reads with (or `auto`); a `ConfigError` otherwise."""
    sep = ALIASES.get(sep, sep) if isinstance(sep, str) else sep
    if sep == AUTO or (isinstance(sep, str) and len(sep) == 1 and sep not in '"\n\r'):
        return sep
    raise ConfigError(
        f"data.sep={sep!r} is not allowed: use auto (read off the header), or one character, "
        "e.g. data.sep=';', data.sep=tab, data.sep='|'"
    )


def check_encoding(encoding: object) -> str:
    """`data.encoding` as a codec Python knows; a `ConfigError` otherwise."""
    try:
        codecs.lookup(str(encoding))
    except LookupError:
        raise ConfigError(
            f"data.encoding={encoding!r} is not an encoding Python knows: use e.g. utf-8, "
            "latin-1, cp1252"
        ) from None
    return str(encoding)


def not_text(path: Path, err: UnicodeDecodeError, encoding: str, key: str | None) -> DataError:
    """The file does not decode with `encoding`: name the byte, and the key that would read it."""
    where = f"byte 0x{err.object[err.start]:02x}{_line_of_first_bad_byte(path, encoding)}"
    fix = f"name its encoding, e.g. {key}=latin-1 (or cp1252)" if key else "save it as UTF-8"
    if key and encoding.replace("_", "-").lower() not in ("utf-8", "utf8"):
        fix = f"name the encoding it was saved in with {key}=..."
    return DataError(f"{path} is not {encoding} text ({where}): {fix}")


def _line_of_first_bad_byte(path: Path, encoding: str) -> str:
    """' on line N' of the first line that does not decode (lines split at newline bytes)."""
    try:
        with path.open("rb") as file:
            for number, line in enumerate(file, start=1):
                try:
                    line.decode(encoding)
                except UnicodeDecodeError:
                    return f" on line {number}"
    except (OSError, LookupError):
        pass
    return ""


def header_line(path: Path, encoding: str, key: str | None) -> str:
    try:
        with path.open(encoding=encoding, newline="") as file:
            return file.readline()
    except UnicodeDecodeError as err:
        raise not_text(path, err, encoding, key) from None


def separator(path: Path, sep: str, encoding: str, key: str | None) -> tuple[str, str | None]:
    """(the separator to read `path` with, the line a run logs when it was read off the header)."""
    if sep != AUTO:
        return sep, None
    header = header_line(path, encoding, key)
    counts = {s: header.count(s) for s in SEPARATORS}
    if counts[","] or not any(counts.values()):
        return ",", None
    found = max(counts, key=counts.get)
    shown = "tab" if found == "\t" else repr(found)
    return found, (
        f"{path}: the header is separated by {SEPARATORS[found]}s, so the file is read with "
        f"data.sep={shown} (set data.sep to choose another)"
    )
