"""Kubeconfigs that come from custom resources: inline data only.

A Snapshot's or Restore's ``spec.kubeconfig`` (or the Secret its
``kubeconfigSecret`` names) is written by whoever may write those custom
resources, not by the operator who runs the controller. kubernetes-asyncio's
full loader would let such a kubeconfig run a command as the controller
(``exec``, ``auth-provider``), read any file the controller can read and
send it away (``tokenFile``, certificate and key paths), and it caches
certificate temp files by content in a module-level dict, so the same
kubeconfig used a second time in one process failed. This loader accepts:

* cluster: ``server``, ``certificate-authority-data``, ``tls-server-name``,
  ``proxy-url``, ``insecure-skip-tls-verify`` (refused as ``true`` unless
  the controller runs with ``--insecure-kubeconfig-tls``), and the harmless
  ``disable-compression`` and ``extensions``;
* user: ``client-certificate-data`` with ``client-key-data``, ``token``,
  ``username`` with ``password``, and ``extensions``.

Everything else in the chosen cluster, user or context is refused with a
:class:`~k8ssnap.errors.ConfigError` whose reason names the field and never
quotes its value. Entries the current context does not choose are never
read. A plain ``http://`` server is refused like a skipped TLS check.

:func:`load` parses in a worker thread (a large YAML document must not hold
the event loop past the leader lease's renew deadline) and returns an
:class:`InlineKubeconfig` whose TLS context is already built: the CA from
memory, the client certificate and key through a private temp folder that
is removed before the call returns, on every path. Nothing is cached.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import shutil
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from k8ssnap import tempdirs
from k8ssnap.errors import ConfigError

MAX_CHARACTERS = 65536
"""The longest kubeconfig accepted, as ``artifacts/crd.yaml``'s ``maxLength`` on ``spec.kubeconfig``."""

TEMP_PREFIX = "k8ssnap-kc-"
"""Prefix of the short-lived folder that holds a client certificate and key for ``load_cert_chain``
(followed by the pid, see :mod:`k8ssnap.tempdirs`: a killed process's folder is swept at start)."""

_CLUSTER_FIELDS = frozenset(
    {
        "server",
        "certificate-authority-data",
        "tls-server-name",
        "proxy-url",
        "insecure-skip-tls-verify",
        "disable-compression",
        "extensions",
    }
)
_USER_FIELDS = frozenset(
    {"client-certificate-data", "client-key-data", "token", "username", "password", "extensions"}
)
_CONTEXT_FIELDS = frozenset({"cluster", "user", "namespace", "extensions"})
_WHY_REFUSED = {
    "exec": "it would run a command in the controller",
    "auth-provider": "it would run a plugin in the controller",
    "tokenFile": "it would read a file of the controller",
    "certificate-authority": "it is a file path; use certificate-authority-data",
    "client-certificate": "it is a file path; use client-certificate-data",
    "client-key": "it is a file path; use client-key-data",
}
_PROXY_SCHEMES = frozenset({"http", "https"})

try:
    _Loader: Any = yaml.CSafeLoader  # libyaml: fast, and it bounds nesting depth itself
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@dataclass(frozen=True, slots=True, repr=False)
class InlineKubeconfig:
    """What a connection needs, taken from an inline kubeconfig. Its ``repr`` shows no credential."""

    server: str
    ssl_context: ssl.SSLContext
    headers: Mapping[str, str]
    """``Authorization`` when the user has a token or basic auth; empty otherwise."""
    tls_server_name: str | None = None
    proxy_url: str | None = None
    tls_verified: bool = True
    """False when the kubeconfig skips verification or the server is plain http (only with the flag)."""

    def __repr__(self) -> str:
        return f"InlineKubeconfig(server={self.server!r}, tls_verified={self.tls_verified})"


async def load(text: str, *, allow_insecure_tls: bool) -> InlineKubeconfig:
    """:func:`parse` in a worker thread; see there."""
    return await asyncio.to_thread(parse, text, allow_insecure_tls=allow_insecure_tls)


def parse(text: str, *, allow_insecure_tls: bool) -> InlineKubeconfig:
    """Read an inline kubeconfig and build its TLS context; ConfigError naming the field if refused.

    Blocking (YAML parsing, a short-lived temp folder): call :func:`load` on the event loop.
    """
    if len(text) > MAX_CHARACTERS:
        raise ConfigError(
            f"the kubeconfig is {len(text)} characters long; at most {MAX_CHARACTERS} are accepted"
        )
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except (yaml.YAMLError, RecursionError):
        raise ConfigError("the kubeconfig is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError("the kubeconfig is not a YAML mapping")
    context_name, context = _current_context(data)
    cluster_name = _text(context, "cluster", where=f"contexts[{context_name}].context")
    user_name = _text(context, "user", where=f"contexts[{context_name}].context")
    cluster = _entry(data, "clusters", "cluster", cluster_name, allowed=_CLUSTER_FIELDS)
    user = _entry(data, "users", "user", user_name, allowed=_USER_FIELDS) if user_name else {}
    return _build(cluster, user, cluster_where=f"clusters[{cluster_name}].cluster",
                  user_where=f"users[{user_name}].user", allow_insecure_tls=allow_insecure_tls)  # fmt: skip


# --- reading ---------------------------------------------------------------------


def _current_context(data: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    contexts = _named(data, "contexts")
    name = data.get("current-context")
    if name in (None, "") and len(contexts) == 1:
        name = next(iter(contexts))
    if not isinstance(name, str) or not name:
        raise ConfigError("the kubeconfig has no current-context")
    if name not in contexts:
        raise ConfigError(f"the kubeconfig's current-context {name!r} is not among its contexts")
    context = _fields_of(contexts[name], "context", where=f"contexts[{name}]")
    _refuse_unknown(context, allowed=_CONTEXT_FIELDS, where=f"contexts[{name}].context")
    return name, context


def _named(data: Mapping[str, Any], section: str) -> dict[str, Any]:
    """A kubeconfig list (``clusters``, ``users``, ``contexts``) as name -> entry."""
    entries = data.get(section) or []
    if not isinstance(entries, list):
        raise ConfigError(f"the kubeconfig's {section} is not a list")
    named: dict[str, Any] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ConfigError(f"an entry of the kubeconfig's {section} has no name")
        named.setdefault(entry["name"], entry)
    return named


def _fields_of(entry: Any, key: str, *, where: str) -> Mapping[str, Any]:
    fields = entry.get(key) if isinstance(entry, dict) else None
    if not isinstance(fields, dict):
        raise ConfigError(f"the kubeconfig's {where} has no {key} mapping")
    return fields


def _entry(
    data: Mapping[str, Any], section: str, key: str, name: str, *, allowed: frozenset[str]
) -> Mapping[str, Any]:
    entries = _named(data, section)
    if name not in entries:
        raise ConfigError(f"the kubeconfig has no {key} {name!r}")
    fields = _fields_of(entries[name], key, where=f"{section}[{name}]")
    _refuse_unknown(fields, allowed=allowed, where=f"{section}[{name}].{key}")
    return fields


def _refuse_unknown(fields: Mapping[str, Any], *, allowed: frozenset[str], where: str) -> None:
    for field in fields:
        if field in allowed:
            continue
        why = _WHY_REFUSED.get(str(field), "it is not supported")
        raise ConfigError(
            f"the kubeconfig's {where}.{field} is refused in a kubeconfig from a custom resource: {why}"
            " (only inline data is accepted)"
        )


def _text(fields: Mapping[str, Any], key: str, *, where: str) -> str:
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"the kubeconfig's {where}.{key} is not a string")
    return value


def _decoded(fields: Mapping[str, Any], key: str, *, where: str) -> bytes | None:
    value = _text(fields, key, where=where)
    if not value:
        return None
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"the kubeconfig's {where}.{key} is not valid base64") from None


def _flag(fields: Mapping[str, Any], key: str, *, where: str) -> bool:
    value = fields.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"the kubeconfig's {where}.{key} must be true or false")
    return value


# --- building ----------------------------------------------------------------------


def _build(
    cluster: Mapping[str, Any],
    user: Mapping[str, Any],
    *,
    cluster_where: str,
    user_where: str,
    allow_insecure_tls: bool,
) -> InlineKubeconfig:
    server = _server(cluster, where=cluster_where)
    skip = _flag(cluster, "insecure-skip-tls-verify", where=cluster_where)
    plain = urlsplit(server).scheme == "http"
    if (skip or plain) and not allow_insecure_tls:
        what = "insecure-skip-tls-verify is true" if skip else "server is plain http://"
        raise ConfigError(
            f"the kubeconfig's {cluster_where}: {what}, which the controller refuses"
            " unless it runs with --insecure-kubeconfig-tls"
        )
    ca = _decoded(cluster, "certificate-authority-data", where=cluster_where)
    if skip and ca is not None:
        raise ConfigError(
            f"the kubeconfig's {cluster_where} sets both certificate-authority-data and"
            " insecure-skip-tls-verify; keep one"
        )
    context = _tls_context(ca, where=cluster_where)
    if skip:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    cert = _decoded(user, "client-certificate-data", where=user_where)
    key = _decoded(user, "client-key-data", where=user_where)
    if (cert is None) != (key is None):
        raise ConfigError(
            f"the kubeconfig's {user_where} needs both client-certificate-data and client-key-data"
        )
    if cert is not None and key is not None:
        _load_client_pair(context, cert, key, where=user_where)
    return InlineKubeconfig(
        server=server.rstrip("/"),
        ssl_context=context,
        headers=_auth_headers(user, where=user_where),
        tls_server_name=_text(cluster, "tls-server-name", where=cluster_where) or None,
        proxy_url=_proxy(cluster, where=cluster_where),
        tls_verified=not (skip or plain),
    )


def _server(cluster: Mapping[str, Any], *, where: str) -> str:
    server = _text(cluster, "server", where=where)
    parts = urlsplit(server)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"the kubeconfig's {where}.server is not an https:// URL")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ConfigError(f"the kubeconfig's {where}.server may not carry credentials, a query or a fragment")
    return server


def _proxy(cluster: Mapping[str, Any], *, where: str) -> str | None:
    proxy = _text(cluster, "proxy-url", where=where)
    if not proxy:
        return None
    parts = urlsplit(proxy)
    if parts.scheme not in _PROXY_SCHEMES or not parts.hostname:
        raise ConfigError(f"the kubeconfig's {where}.proxy-url must be an http:// or https:// URL")
    return proxy


def _tls_context(ca: bytes | None, *, where: str) -> ssl.SSLContext:
    """The system's trust store, or only the kubeconfig's CA when it has one."""
    if ca is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cadata=ca.decode("ascii") if b"-----BEGIN" in ca else ca)
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        raise ConfigError(
            f"the kubeconfig's {where}.certificate-authority-data is not a certificate"
        ) from None


def _load_client_pair(context: ssl.SSLContext, cert: bytes, key: bytes, *, where: str) -> None:
    """``load_cert_chain`` reads only files: write both to a private folder, removed before returning."""
    folder = tempfile.mkdtemp(prefix=tempdirs.prefix("kc"))  # mode 0700; TEMP_PREFIX<pid>-
    try:
        cert_path, key_path = (
            _private_file(folder, "client.crt", cert),
            _private_file(folder, "client.key", key),
        )
        context.load_cert_chain(cert_path, key_path, password=_no_password)
    except (ssl.SSLError, ValueError, OSError):
        raise ConfigError(
            f"the kubeconfig's {where}: client-certificate-data and client-key-data are not a matching"
            " certificate and unencrypted key"
        ) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _private_file(folder: str, name: str, content: bytes) -> str:
    path = str(Path(folder) / name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    return path


def _no_password() -> bytes:
    """An encrypted key fails to load instead of OpenSSL prompting on the controller's terminal."""
    return b""


def _auth_headers(user: Mapping[str, Any], *, where: str) -> Mapping[str, str]:
    token = _text(user, "token", where=where).strip()
    username = _text(user, "username", where=where)
    password = _text(user, "password", where=where)
    for key, value in (("token", token), ("username", username), ("password", password)):
        if any(ord(c) < 0x20 or c == "\x7f" for c in value):  # would split or break the header
            raise ConfigError(f"the kubeconfig's {where}.{key} contains control characters")
    if token and (username or password):
        raise ConfigError(f"the kubeconfig's {where} sets both a token and basic auth; keep one")
    if token:
        return {"Authorization": f"Bearer {token}"}
    if username or password:
        if not (username and password):
            raise ConfigError(f"the kubeconfig's {where} needs both username and password")
        pair = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {pair}"}
    return {}
