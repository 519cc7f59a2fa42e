"""The ``k8ssnap`` CLI's options and how they resolve against the environment.

Pure functions of the parsed arguments and an environment mapping (never
``os.environ`` directly), so every default is tested without touching the
process. Wrong usage raises :class:`UsageError` (exit code 2); files that
cannot be read raise OSError, and malformed content a k8ssnap error (exit
code 1).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from k8ssnap import errors
from k8ssnap.api.resources import parse_restore_preference
from k8ssnap.archive.layout import check_snapshot_name
from k8ssnap.domain.paths import parse_path
from k8ssnap.domain.preference import Preference
from k8ssnap.store import folder
from k8ssnap.store.age import Recipients
from k8ssnap.store.s3 import S3Settings

ACCESS_KEY_ENV = "AWS_ACCESS_KEY_ID"
SECRET_KEY_ENV = "AWS_SECRET_ACCESS_KEY"  # noqa: S105 - the variable's name, not a secret
ENDPOINT_ENVS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
REGION_ENVS = ("AWS_REGION", "AWS_DEFAULT_REGION")
BUCKET_ENV = "K8SSNAP_BUCKET"
IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
DEFAULT_REGION = "us-east-1"
PREFERENCE_KIND = "RestorePreference"


class UsageError(Exception):
    """The command line cannot be used as given (exit code 2)."""


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand takes."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--progress", action="store_true",
                   help="show progress on stderr even when it is not a terminal")  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true", help="say more (and list every restored object)")
    p.add_argument("--retry-seconds", type=_positive_float, default=60.0, metavar="S",
                   help="how long to retry a failing request to S3 or the cluster (default 60)")  # fmt: skip
    p.add_argument("--concurrency", type=_positive_int, default=8, metavar="N",
                   help="parallel requests to the cluster (default 8)")  # fmt: skip
    return p


def store_options() -> argparse.ArgumentParser:
    """Where the bucket is: flags, with the AWS environment variables as defaults."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("object store")
    g.add_argument("--endpoint",
                   help="S3 endpoint, host[:port] or URL (default: $AWS_ENDPOINT_URL, or AWS); "
                   "file:///folder for a local folder (the bucket is a folder in it)")  # fmt: skip
    g.add_argument("--bucket", help=f"bucket (default: ${BUCKET_ENV})")
    g.add_argument("--region", help=f"region (default: $AWS_REGION, or {DEFAULT_REGION})")
    g.add_argument("--prefix", default="", help="folder of the bucket the snapshots are in")
    g.add_argument("--access-key", help=f"access key id (default: ${ACCESS_KEY_ENV})")
    g.add_argument("--secret-key",
                   help=f"secret key (default: ${SECRET_KEY_ENV}; better: flags show in ps)")  # fmt: skip
    g.add_argument("--insecure", action="store_true",
                   help="plain http for an endpoint without scheme, and no TLS verification")  # fmt: skip
    return p


def identity_options() -> argparse.ArgumentParser:
    """The age identities that open encrypted snapshots (docs/encryption.md)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--identity", type=Path, metavar="FILE",
                   help="age identity file (AGE-SECRET-KEY-1... lines) for encrypted snapshots")  # fmt: skip
    return p


def recipients(keys: list[str] | None) -> Recipients | None:
    """``--recipient`` values as age recipients; None without any."""
    if not keys:
        return None
    return Recipients.parse("\n".join(keys), what="--recipient")


def kube_options() -> argparse.ArgumentParser:
    """Which cluster."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--kubeconfig", metavar="FILE",
                   help="kubeconfig of the cluster (default: $KUBECONFIG, then ~/.kube/config)")  # fmt: skip
    return p


def snapshot_or_file(sub: argparse.ArgumentParser) -> None:
    """A SNAPSHOT in the bucket, or ``--file`` for a local archive (see :func:`check`)."""
    sub.add_argument("snapshot", metavar="SNAPSHOT", nargs="?", type=snapshot_name,
                     help="name of the snapshot in the bucket")  # fmt: skip
    sub.add_argument("--file", type=Path, metavar="FILE.tgz",
                     help="read this local archive instead (see `snapshot --output`)")  # fmt: skip


def check(ns: argparse.Namespace) -> None:
    """Cross-option rules argparse cannot express."""
    if "file" in ns and (ns.snapshot is None) == (ns.file is None):
        raise UsageError("name a SNAPSHOT in the bucket, or give --file FILE.tgz (not both)")
    if getattr(ns, "output", None) is not None and ns.output.is_dir():
        raise UsageError(f"--output {ns.output} is a folder; name the archive file, e.g. {ns.name}.tgz")


def snapshot_name(text: str) -> str:
    """argparse type: a valid snapshot (Kubernetes object) name."""
    try:
        return check_snapshot_name(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid snapshot name {text!r}: lower-case letters, digits, '-' and '.'"
        ) from None


def object_path(text: str) -> str:
    """An object's API path, or UsageError."""
    try:
        return parse_path(text).path
    except ValueError as exc:
        raise UsageError(
            f"{exc}; PATH looks like /api/v1/namespaces/NS/configmaps/NAME "
            "or /apis/apps/v1/namespaces/NS/deployments/NAME"
        ) from None


def s3_settings(ns: argparse.Namespace, env: Mapping[str, str]) -> tuple[S3Settings, str]:
    """S3 settings and key prefix from the flags, then the environment."""
    bucket = ns.bucket or env.get(BUCKET_ENV, "")
    access = ns.access_key or env.get(ACCESS_KEY_ENV, "")
    secret = ns.secret_key or env.get(SECRET_KEY_ENV, "")
    if not bucket:
        raise UsageError(f"no bucket: pass --bucket or set {BUCKET_ENV}")
    endpoint = ns.endpoint or _first(env, ENDPOINT_ENVS)
    if folder.is_folder_endpoint(endpoint):  # a local folder needs no credentials
        prefix = ns.prefix.strip("/")
        return S3Settings(endpoint=endpoint, bucket=bucket, access_key="", secret_key=""), (
            f"{prefix}/" if prefix else ""
        )
    if not access or not secret:
        raise UsageError(
            f"no S3 credentials: set {ACCESS_KEY_ENV} and {SECRET_KEY_ENV} (or --access-key, --secret-key)"
        )
    settings = S3Settings(
        endpoint=endpoint,
        bucket=bucket,
        access_key=access,
        secret_key=secret,
        region=ns.region or _first(env, REGION_ENVS) or DEFAULT_REGION,
        insecure=ns.insecure,
        verify_tls=not ns.insecure,
        force_path_style=bool(endpoint),
    )
    prefix = ns.prefix.strip("/")
    return settings, f"{prefix}/" if prefix else ""


def kubeconfig(flag: str | None, env: Mapping[str, str], *, home: Path | None = None) -> str | None:
    """The kubeconfig file to use, as kubectl picks it; None means in-cluster config."""
    if flag:
        return flag
    for candidate in env.get("KUBECONFIG", "").split(":"):
        if candidate:
            return candidate
    default = (home if home is not None else Path.home()) / ".kube" / "config"
    if default.is_file():
        return str(default)
    if env.get(IN_CLUSTER_ENV):
        return None
    raise UsageError("no kubeconfig: pass --kubeconfig FILE or set KUBECONFIG")


def cluster_name(path: str | None) -> str:
    """The current context's cluster in a kubeconfig file (``in-cluster`` without one)."""
    if path is None:
        return "in-cluster"
    with Path(path).open(encoding="utf-8") as handle:
        config = _mapping(yaml.safe_load(handle))
    current = config.get("current-context")
    for context in config.get("contexts") or ():
        entry = _mapping(context)
        if entry.get("name") == current:
            name = _mapping(entry.get("context")).get("cluster")
            if isinstance(name, str) and name:
                return name
    raise UsageError(f"cannot tell the cluster's name from {path}: pass --cluster-name")


def load_preference(path: Path) -> Preference:
    """A RestorePreference manifest (or a bare spec) from a YAML file."""
    with path.open(encoding="utf-8") as handle:
        try:
            documents = [d for d in yaml.safe_load_all(handle) if d is not None]
        except yaml.YAMLError as exc:
            raise errors.ConfigError(f"{path} is not valid YAML: {exc}") from None
    manifests = [d for d in documents if isinstance(d, dict) and d.get("kind") == PREFERENCE_KIND]
    if len(manifests) > 1:
        raise errors.ConfigError(f"{path} holds {len(manifests)} RestorePreferences; keep one")
    if manifests:
        raw_spec = manifests[0].get("spec")
    elif len(documents) == 1 and isinstance(documents[0], dict) and "kind" not in documents[0]:
        raw_spec = documents[0]
    else:
        raise errors.ConfigError(f"{path} holds no RestorePreference")
    # The checks of the controller's; a file needs no name or namespace.
    checked = parse_restore_preference({"metadata": {"name": "file", "namespace": "file"}, "spec": raw_spec})
    try:
        return Preference.from_spec(checked.spec)
    except ValueError as exc:
        raise errors.ConfigError(f"{path}: {exc}") from None


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> str:
    return next((env[name] for name in names if env.get(name)), "")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value
