"""Bounds on one archived object's JSON, checked on the bytes before any parser sees them.

orjson builds whatever it is given: an 8 MiB entry of ``[{},{},...]`` is 2.8
million dicts, several hundred MiB of Python objects. :func:`check_json`
refuses such an entry in a few passes over its bytes at C speed, with no
allocation beyond one copy of the entry:

* ``{`` plus ``[`` and ``,`` are counted on the raw bytes first. That
  over-counts (brackets and commas inside strings count too), so only when
  a cap is passed are they counted again outside the strings: a string
  anyone may write (a ConfigMap value of 300k ``{``) never makes the
  archive holding it unrestorable.
* Nesting depth is measured only when there are more brackets than the
  depth cap: the brackets outside strings are kept as ``(`` and ``)``, and
  innermost pairs stripped one level per pass. More than
  :data:`~k8ssnap.limits.MAX_JSON_DEPTH` passes means too deep (orjson's
  own encoder refuses depth 255 and more, so such an object could not be
  restored anyway).

Malformed JSON passes these checks when it is small; the parser rejects it.
"""

from __future__ import annotations

import re
from typing import Final

from k8ssnap import limits
from k8ssnap.errors import ArchiveError

_SKELETON: Final = bytes.maketrans(b"{[}]", b"(())")
_NOT_SKELETON: Final = bytes(b for b in range(256) if b not in b'{}[]"')
_PAIR: Final = b"()"
_QUOTE: Final = b'"'
_STRING: Final = re.compile(rb'"[^"]*"')


def check_json(body: bytes, *, what: str, max_commas: int = limits.MAX_JSON_COMMAS) -> None:
    """ArchiveError if ``body`` holds too many containers or elements, or nests too deeply."""
    containers = body.count(b"{") + body.count(b"[")
    commas = body.count(b",")
    if containers > limits.MAX_JSON_CONTAINERS or commas > max_commas:
        bare = _outside_strings(body)
        containers = bare.count(b"{") + bare.count(b"[")
        commas = bare.count(b",")
    if containers > limits.MAX_JSON_CONTAINERS:
        raise ArchiveError(
            f"archive entry {what} has too many JSON objects and arrays "
            f"({containers} > {limits.MAX_JSON_CONTAINERS})"
        )
    if commas > max_commas:
        raise ArchiveError(f"archive entry {what} has too many JSON elements ({commas} > {max_commas})")
    if containers > limits.MAX_JSON_DEPTH and _too_deep(body):
        raise ArchiveError(f"archive entry {what} nests JSON more than {limits.MAX_JSON_DEPTH} levels deep")


def _too_deep(body: bytes) -> bool:
    skeleton = _skeleton(body)
    for _ in range(limits.MAX_JSON_DEPTH):
        stripped = skeleton.replace(_PAIR, b"")
        if len(stripped) == len(skeleton):
            return False  # empty, or unbalanced: the parser will say so
        skeleton = stripped
    return _PAIR in skeleton


def _outside_strings(body: bytes) -> bytes:
    """``body`` without its strings' contents (escapes dropped first, so every ``"`` left delimits one)."""
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    return _STRING.sub(b"", body)


def _skeleton(body: bytes) -> bytes:
    """The brackets of ``body`` outside its strings, as ``(`` and ``)``, in C-speed passes.

    Escaped backslashes, then escaped quotes are dropped, so every ``"`` left
    delimits a string. Keeping only brackets and quotes, two adjacent quotes
    never enclose or separate a bracket outside a string, so dropping them
    changes nothing; what quotes remain (strings holding brackets) are split out.
    """
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = body.translate(_SKELETON, _NOT_SKELETON).replace(_QUOTE * 2, b"")
    if _QUOTE in skeleton:
        skeleton = b"".join(skeleton.split(_QUOTE)[0::2])
    return skeleton
