"""age encryption (age-encryption.org/v1, X25519) of archives, streamed.

The cryptography and the file format are pyrage's (the Rust ``age`` crate);
nothing here touches a key or a byte of the format. What this module adds
is the bridge between pyrage's blocking ``encrypt_io``/``decrypt_io``
(which stream through file-like objects) and the asyncio pipeline:

* :class:`EncryptingUpload` is an :class:`~k8ssnap.store.objectstore.Upload`
  that age-encrypts everything written to it into another Upload.
* :func:`decrypted` turns a download iterator of ciphertext into one of
  plaintext.

Each runs pyrage in one worker thread through
:class:`~k8ssnap.store.threadpipe.ThreadPipe` (bounded queues both ways), so
memory stays flat whatever the archive's size (measured in
docs/performance.md), and a slow upload slows the archive writer down, as
without encryption.

Both also hash the *ciphertext* (the object in the bucket): its sha256 and
size go into the record beside the archive, and a download is checked
against them, so the record is verifiable without the identity.

Keys are parsed from text as age's own files hold them (one key a line,
``#`` comments and blank lines ignored). Errors name the line number, never
the line: an identity must not end up in a status or a log, nor a secret
key pasted into a recipients Secret by mistake.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final

import pyrage
from pyrage import x25519

from k8ssnap import errors
from k8ssnap.store import threadpipe
from k8ssnap.store.objectstore import StoredObject, Upload

FORMAT: Final = "age-encryption.org/v1"
RECIPIENT_PREFIX: Final = "age1"
IDENTITY_PREFIX: Final = "AGE-SECRET-KEY-1"
DEPTH: Final = threadpipe.DEPTH


# -- keys ----------------------------------------------------------------------


def _lines(text: str) -> list[tuple[int, str]]:
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            out.append((number, line))
    return out


@dataclass(frozen=True, slots=True)
class Recipients:
    """Public keys (``age1...``) an archive is encrypted to; at least one, no duplicates."""

    keys: tuple[str, ...]
    _parsed: tuple[Any, ...] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, text: str, *, what: str) -> Recipients:
        """Recipients from age's recipients-file text; ConfigError naming ``what`` if unusable."""
        keys: list[str] = []
        parsed = []
        for number, line in _lines(text):
            if line.upper().startswith(IDENTITY_PREFIX):
                raise errors.ConfigError(
                    f"{what}: line {number} is a secret key (identity), not a recipient;"
                    " put only public keys (age1...) here, e.g. from `k8ssnap keygen`"
                )
            try:
                recipient = x25519.Recipient.from_str(line)
            except pyrage.RecipientError:
                raise errors.ConfigError(
                    f"{what}: line {number} is not an age X25519 recipient (age1...)"
                ) from None
            if str(recipient) not in keys:
                keys.append(str(recipient))
                parsed.append(recipient)
        if not keys:
            raise errors.ConfigError(f"{what}: no age recipient (age1...) in it")
        return cls(tuple(keys), tuple(parsed))


@dataclass(frozen=True, slots=True)
class Identities:
    """Secret keys (``AGE-SECRET-KEY-1...``) that can open archives. ``repr`` shows only public keys."""

    public: tuple[str, ...]
    _parsed: tuple[Any, ...] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, text: str, *, what: str) -> Identities:
        """Identities from age's identity-file text (``age-keygen`` output); ConfigError if unusable."""
        public: list[str] = []
        parsed = []
        for number, line in _lines(text):
            try:
                identity = x25519.Identity.from_str(line)
            except pyrage.IdentityError:
                raise errors.ConfigError(
                    f"{what}: line {number} is not an age X25519 identity (AGE-SECRET-KEY-1...)"
                ) from None
            public.append(str(identity.to_public()))
            parsed.append(identity)
        if not parsed:
            raise errors.ConfigError(f"{what}: no age identity (AGE-SECRET-KEY-1...) in it")
        return cls(tuple(public), tuple(parsed))

    def opens(self, recipients: tuple[str, ...]) -> bool:
        """Whether one of these identities belongs to one of ``recipients``."""
        return bool(set(self.public) & set(recipients))


def generate() -> tuple[str, str]:
    """A new ``(identity, recipient)`` pair, as text."""
    identity = x25519.Identity.generate()
    return str(identity), str(identity.to_public())


@dataclass(frozen=True, slots=True, kw_only=True)
class Decryption:
    """How to open one encrypted archive, and what the stored object must be.

    ``expected_sha256`` (hex) and ``expected_size`` are the ciphertext's, as
    the record says; ``""`` and ``0`` are not checked.
    """

    identities: Identities
    expected_sha256: str = ""
    expected_size: int = 0


# -- encryption ----------------------------------------------------------------


class EncryptingUpload:
    """An Upload that age-encrypts what is written to it into ``inner``.

    ``sha256`` and ``size`` describe the ciphertext, i.e. the stored object,
    once :meth:`complete` has returned.
    """

    def __init__(self, inner: Upload, recipients: Recipients, *, depth: int = DEPTH) -> None:
        self._inner = inner
        self._recipients = recipients
        self._depth = depth
        self._bridge: threadpipe.ThreadPipe | None = None

    def __repr__(self) -> str:
        return f"<EncryptingUpload to {len(self._recipients.keys)} recipients into {self._inner!r}>"

    def _started(self) -> threadpipe.ThreadPipe:
        if self._bridge is None:
            recipients = list(self._recipients._parsed)

            def work(reader: io.RawIOBase, writer: io.RawIOBase) -> None:
                pyrage.encrypt_io(reader, writer, recipients)

            self._bridge = threadpipe.ThreadPipe(
                work=work, sink=self._inner.write, digest="out", depth=self._depth
            )
        return self._bridge

    @property
    def sha256(self) -> str:
        return self._started().sha256

    @property
    def size(self) -> int:
        return self._started().size

    async def write(self, chunk: bytes) -> None:
        await self._started().feed(chunk)

    async def complete(self) -> StoredObject:
        bridge = self._started()
        try:
            await bridge.finish()
        except threadpipe.WorkFailed as exc:
            await self._inner.abort()
            raise errors.PermanentError(f"age encryption failed: {exc}") from None
        except BaseException:
            await self._inner.abort()
            raise
        return await self._inner.complete()

    async def abort(self) -> None:
        if self._bridge is not None:
            await self._bridge.abort()
        await self._inner.abort()


# -- decryption ----------------------------------------------------------------


async def decrypted(
    chunks: AsyncIterator[bytes], decryption: Decryption, *, what: str, depth: int = DEPTH
) -> AsyncIterator[bytes]:
    """The plaintext of the age ciphertext ``chunks`` of ``what`` (a key, for messages).

    Raises ArchiveError if the ciphertext is damaged, truncated, not age,
    or not the object the record describes (sha256, size). Plaintext comes
    out only after age authenticated it (64 KiB at a time), and a truncated
    stream fails at its end, so a consumer that acts only on a complete read
    never acts on forged or cut-off data. Closing the iterator early stops
    the download and the thread.
    """
    out: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=depth)
    identities = list(decryption.identities._parsed)

    def work(reader: io.RawIOBase, writer: io.RawIOBase) -> None:
        pyrage.decrypt_io(reader, writer, identities)

    bridge = threadpipe.ThreadPipe(work=work, sink=out.put, digest="in", depth=depth)

    async def pump() -> None:
        """Feed the thread; then the end marker (not when cancelled: nobody reads any more)."""
        received = 0
        try:
            async for chunk in chunks:
                received += len(chunk)
                _check_received(received, decryption, what=what)
                await bridge.feed(chunk)
            await bridge.finish()
        except Exception:
            await out.put(None)
            raise
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()
        await out.put(None)

    task = asyncio.create_task(pump())
    try:
        while (chunk := await out.get()) is not None:
            yield chunk
        await _settled(task, what=what)
        _check(bridge, decryption, what=what)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await bridge.abort()


async def _settled(task: asyncio.Task[None], *, what: str) -> None:
    try:
        await task
    except threadpipe.WorkFailed as exc:
        raise errors.ArchiveError(
            f"archive {what} could not be decrypted ({exc}): it is damaged, or none of the"
            " identities given is one of its recipients"
        ) from None


def _check_received(received: int, decryption: Decryption, *, what: str) -> None:
    if decryption.expected_size and received > decryption.expected_size:
        raise errors.ArchiveError(
            f"archive {what} is larger than the {decryption.expected_size} bytes its record says"
        )


def _check(bridge: threadpipe.ThreadPipe, decryption: Decryption, *, what: str) -> None:
    if decryption.expected_size and bridge.size != decryption.expected_size:
        raise errors.ArchiveError(
            f"archive {what} is {bridge.size} bytes, but its record says {decryption.expected_size}"
        )
    if decryption.expected_sha256 and bridge.sha256 != decryption.expected_sha256.lower():
        raise errors.ArchiveError(
            f"archive {what} has sha256 {bridge.sha256}, but its record says {decryption.expected_sha256}"
        )
