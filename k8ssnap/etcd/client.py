"""etcd's v3 gRPC API through grpcio: Status, MemberList and the snapshot stream.

Why gRPC and not the HTTP/JSON gateway: the gateway can be switched off
(``--enable-grpc-gateway=false``), wraps every 32 KiB chunk in JSON with a
base64 blob (a third more bytes, plus a parse per chunk), and reports a
failure half-way as a JSON object inside an HTTP 200. gRPC is etcd's own
interface, always on, carries the blob as raw bytes, and HTTP/2 flow
control holds etcd back while the upload is slower than the stream, so
memory stays flat. The three calls have empty requests and their answers
are decoded by :mod:`k8ssnap.etcd.wire`, so only ``grpcio`` is needed.

grpcio is imported on first use, not with this module: it adds about 10 MB
to the resident set of every controller, and only EtcdSnapshots need it.

Failures are mapped here, once: unreachable, busy or timed out is
:class:`k8ssnap.errors.EtcdRetriable`; refused credentials, permissions
and anything else is :class:`k8ssnap.errors.EtcdPermanent`. Messages never
include the TLS key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from k8ssnap.errors import EtcdError, EtcdPermanent, EtcdRetriable
from k8ssnap.etcd import wire

if TYPE_CHECKING:
    import grpc

_STATUS = "/etcdserverpb.Maintenance/Status"
_SNAPSHOT = "/etcdserverpb.Maintenance/Snapshot"
_MEMBERS = "/etcdserverpb.Cluster/MemberList"
_RETRIABLE = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED"})
"""Names of the ``grpc.StatusCode`` members worth another try."""
_OPTIONS = (
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", 16 << 20),
)


@dataclass(frozen=True, slots=True)
class EtcdTls:
    """PEM bytes of the CA, client certificate and key. ``repr`` never shows the key."""

    ca: bytes
    cert: bytes
    key: bytes

    def __repr__(self) -> str:
        return "EtcdTls(<redacted>)"


def _raw(data: bytes) -> bytes:
    return data


def map_rpc_error(exc: grpc.aio.AioRpcError, *, what: str, endpoint: str) -> EtcdError:
    """The k8ssnap error for a failed call (the one place gRPC codes are read)."""
    code = exc.code()
    detail = (exc.details() or "").splitlines()[0][:200] if exc.details() else ""
    text = f"etcd at {endpoint}: {what} failed: {code.name.lower()}" + (f" ({detail})" if detail else "")
    return EtcdRetriable(text) if code.name in _RETRIABLE else EtcdPermanent(text)


def _target(endpoint: str, *, tls: EtcdTls | None) -> tuple[str, bool]:
    """``(host:port, secure)`` of an endpoint URL (``https://`` needs ``tls``'s CA)."""
    parts = urlsplit(endpoint if "://" in endpoint else f"{'https' if tls else 'http'}://{endpoint}")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
        raise EtcdPermanent(f"etcd endpoint {endpoint!r} is not http(s)://host:port")
    if parts.path not in ("", "/"):
        raise EtcdPermanent(f"etcd endpoint {endpoint!r} must not have a path")
    return parts.netloc, parts.scheme == "https"


class EtcdClient:
    """One etcd member, reached through the first endpoint that answers :meth:`status`.

    A snapshot must come from one member (etcdctl refuses several
    endpoints for the same reason), so every call after the first goes to
    the member that answered it.
    """

    def __init__(self, *, endpoints: Sequence[str], tls: EtcdTls | None, timeout: float = 10.0) -> None:
        if not endpoints:
            raise EtcdPermanent("no etcd endpoints were given")
        self._targets = [(url, *_target(url, tls=tls)) for url in endpoints]
        self._tls = tls
        self._timeout = timeout
        self._channel: grpc.aio.Channel | None = None
        self.endpoint = ""

    def __repr__(self) -> str:
        return f"<EtcdClient {self.endpoint or [t[0] for t in self._targets]}>"

    def _open(self, target: str, *, secure: bool) -> grpc.aio.Channel:
        import grpc  # on first use: see the module docstring

        if not secure:
            return grpc.aio.insecure_channel(target, options=_OPTIONS)
        if self._tls is None:
            raise EtcdPermanent("an https etcd endpoint needs spec.tlsSecret (ca.crt, tls.crt, tls.key)")
        creds = grpc.ssl_channel_credentials(
            root_certificates=self._tls.ca, private_key=self._tls.key, certificate_chain=self._tls.cert
        )
        return grpc.aio.secure_channel(target, creds, options=_OPTIONS)

    async def status(self) -> wire.Status:
        """Status of the first endpoint that answers, which is then used for every other call."""
        import grpc  # on first use: see the module docstring

        last: EtcdError | None = None
        for url, target, secure in self._targets:
            channel = self._open(target, secure=secure)
            try:
                raw = await channel.unary_unary(_STATUS, request_serializer=_raw, response_deserializer=_raw)(
                    b"", timeout=self._timeout
                )
            except grpc.aio.AioRpcError as exc:
                await channel.close()
                last = map_rpc_error(exc, what="Status", endpoint=url)
                continue
            await self.close()
            self._channel, self.endpoint = channel, url
            return wire.decode_status(raw)
        assert last is not None
        raise last

    def _chosen(self) -> grpc.aio.Channel:
        if self._channel is None:
            raise RuntimeError("call status() first")
        return self._channel

    async def members(self) -> tuple[wire.Member, ...]:
        import grpc  # on first use: see the module docstring

        call = self._chosen().unary_unary(_MEMBERS, request_serializer=_raw, response_deserializer=_raw)
        try:
            raw = await call(b"", timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise map_rpc_error(exc, what="MemberList", endpoint=self.endpoint) from None
        return wire.decode_member_list(raw)

    async def snapshot(self) -> AsyncIterator[wire.SnapshotChunk]:
        """The raw snapshot stream; check it with :class:`k8ssnap.etcd.stream.SnapshotVerifier`."""
        import grpc  # on first use: see the module docstring

        call = self._chosen().unary_stream(_SNAPSHOT, request_serializer=_raw, response_deserializer=_raw)(
            b""
        )
        try:
            async for raw in call:
                yield wire.decode_snapshot_response(raw)
        except grpc.aio.AioRpcError as exc:
            raise map_rpc_error(exc, what="Snapshot", endpoint=self.endpoint) from None
        finally:
            call.cancel()

    async def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()
