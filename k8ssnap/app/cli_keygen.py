"""``k8ssnap keygen``: a new age identity and its recipient, as ``age-keygen`` prints them.

The identity (``AGE-SECRET-KEY-1...``) goes to ``--output`` (created with
mode 0600, never overwritten) or to stdout; the recipient (``age1...``) is
also said on stderr, so ``k8ssnap keygen -o key.txt`` shows what to put in
the recipients Secret. The file is the format ``age -d -i key.txt`` reads,
and what an identity Secret holds (docs/encryption.md).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from k8ssnap import errors
from k8ssnap.app.cli_source import Console
from k8ssnap.store import age


def identity_file(identity: str, recipient: str, *, now: dt.datetime) -> str:
    """The text of an identity file, age-keygen's layout."""
    created = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"# created: {created}\n# public key: {recipient}\n{identity}\n"


def keygen(output: Path | None, console: Console) -> int:
    """Generate a key pair; write the identity to ``output`` (or stdout) and report the recipient."""
    identity, recipient = age.generate()
    text = identity_file(identity, recipient, now=dt.datetime.now(dt.UTC))
    if output is None:
        console.out.write(text)
        return 0
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise errors.ConfigError(f"{output} exists; k8ssnap keygen never overwrites an identity") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    console.info(f"Public key: {recipient}")
    return 0
