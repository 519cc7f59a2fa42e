"""Argument parsing and how options resolve against the environment (no network)."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from k8ssnap import errors
from k8ssnap.app import cli, cli_args
from k8ssnap.app.cli_args import UsageError

SECRET = "wJalrXUtnFEMI-not-a-real-secret"
ENV = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": SECRET, "K8SSNAP_BUCKET": "envbucket"}


def parse(*argv: str) -> argparse.Namespace:
    return cli.parser().parse_args(argv)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["list"], {"command": "list", "prefix": "", "progress": False, "concurrency": 8}),
        (["show", "snap-1"], {"snapshot": "snap-1", "by": None, "file": None}),
        (["show", "snap-1", "--by", "kind"], {"by": "kind"}),
        (["show", "--file", "x.tgz"], {"snapshot": None, "file": Path("x.tgz")}),
        (
            ["get", "snap-1", "/api/v1/namespaces/d/configmaps/x", "-o", "json"],
            {"snapshot": "snap-1", "path": "/api/v1/namespaces/d/configmaps/x", "output_format": "json"},
        ),
        (
            ["get", "--file", "x.tgz", "/api/v1/namespaces/d"],
            {"snapshot": None, "path": "/api/v1/namespaces/d"},
        ),
        (
            ["diff", "snap-1", "--kubeconfig", "kc", "-n", "app", "-d"],
            {"kubeconfig": "kc", "namespace": "app", "details": True, "preference": None},
        ),
        (
            ["snapshot", "snap-2", "--kubeconfig", "kc", "--cluster-name", "prod", "--output", "o.tgz"],
            {"name": "snap-2", "cluster_name": "prod", "output": Path("o.tgz"), "overwrite": False},
        ),
        (
            ["restore", "snap-1", "--preference", "p.yaml", "--overwrite-existing", "--concurrency", "3"],
            {"preference": Path("p.yaml"), "overwrite_existing": True, "concurrency": 3},
        ),
        (
            [
                "list",
                "--endpoint",
                "minio:9000",
                "--bucket",
                "b",
                "--region",
                "eu",
                "--insecure",
                "--progress",
            ],
            {"endpoint": "minio:9000", "bucket": "b", "region": "eu", "insecure": True, "progress": True},
        ),
    ],
)
def test_parsing(argv: list[str], expected: dict[str, object]) -> None:
    ns = parse(*argv)
    assert {key: getattr(ns, key) for key in expected} == expected


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nonsense"],
        ["snapshot"],
        ["snapshot", "Not_A_Name"],
        ["show", "snap-1", "--by", "colour"],
        ["get", "snap-1"],
        ["list", "--concurrency", "0"],
        ["list", "--retry-seconds", "-1"],
    ],
)
def test_argparse_usage_errors_exit_2(argv: list[str]) -> None:
    code, out, err = run(*argv)
    assert code == 2
    assert out == ""
    assert "usage:" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show"], "name a SNAPSHOT in the bucket, or give --file"),
        (["show", "snap-1", "--file", "x.tgz"], "not both"),
        (["get", "--file", "x.tgz", "/api/v1/namespaces/d/configmaps"], "not an object path"),
        (["get", "snap-1", "api/v1/namespaces/d"], "not an API path"),
    ],
)
def test_cross_option_usage_errors_exit_2(argv: list[str], message: str) -> None:
    code, _, err = run(*argv)
    assert code == 2
    assert message in err


def test_missing_bucket_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("K8SSNAP_BUCKET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run("list")
    assert code == 2
    assert "no bucket: pass --bucket or set K8SSNAP_BUCKET" in err


def test_help_exits_0() -> None:
    code, _, _ = run("--help")
    assert code == 0


def test_output_folder_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("snapshot", "snap-1", "--output", str(tmp_path))
    assert code == 2
    assert "is a folder" in err


def test_s3_settings_from_the_environment() -> None:
    settings, prefix = cli_args.s3_settings(parse("list"), ENV)
    assert (settings.bucket, settings.access_key, settings.secret_key) == ("envbucket", "AKIDEXAMPLE", SECRET)
    assert (settings.endpoint, settings.region, settings.insecure, prefix) == ("", "us-east-1", False, "")
    assert settings.force_path_style is False  # AWS: virtual-hosted buckets
    assert SECRET not in repr(settings)


def test_flags_win_over_the_environment() -> None:
    ns = parse(
        "list", "--bucket", "b", "--access-key", "ak", "--secret-key", "sk",
        "--endpoint", "127.0.0.1:9000", "--region", "eu-west-1", "--prefix", "/clusters/prod/", "--insecure",
    )  # fmt: skip
    env = {**ENV, "AWS_ENDPOINT_URL": "https://other", "AWS_REGION": "ap-northeast-1"}
    settings, prefix = cli_args.s3_settings(ns, env)
    assert (settings.bucket, settings.access_key, settings.secret_key) == ("b", "ak", "sk")
    assert (settings.endpoint, settings.region, settings.insecure) == ("127.0.0.1:9000", "eu-west-1", True)
    assert settings.endpoint_url == "http://127.0.0.1:9000"
    assert settings.force_path_style is True
    assert prefix == "clusters/prod/"


@pytest.mark.parametrize(
    ("env", "endpoint", "region"),
    [
        ({"AWS_ENDPOINT_URL": "http://a:1"}, "http://a:1", "us-east-1"),
        (
            {"AWS_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_S3": "http://s3:2"},
            "http://s3:2",
            "us-east-1",
        ),
        ({"AWS_DEFAULT_REGION": "eu-north-1"}, "", "eu-north-1"),
        ({"AWS_DEFAULT_REGION": "eu-north-1", "AWS_REGION": "sa-east-1"}, "", "sa-east-1"),
    ],
)
def test_endpoint_and_region_from_the_environment(env: dict[str, str], endpoint: str, region: str) -> None:
    settings, _ = cli_args.s3_settings(parse("list"), {**ENV, **env})
    assert (settings.endpoint, settings.region) == (endpoint, region)


@pytest.mark.parametrize("missing", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
def test_missing_credentials_are_a_usage_error(missing: str) -> None:
    env = {key: value for key, value in ENV.items() if key != missing}
    with pytest.raises(UsageError, match="no S3 credentials"):
        cli_args.s3_settings(parse("list"), env)


def test_kubeconfig_resolution(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli_args.kubeconfig("given", {"KUBECONFIG": "env"}, home=home) == "given"
    assert cli_args.kubeconfig(None, {"KUBECONFIG": ":first:second"}, home=home) == "first"
    assert cli_args.kubeconfig(None, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, home=home) is None
    with pytest.raises(UsageError, match="no kubeconfig"):
        cli_args.kubeconfig(None, {}, home=home)
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text("{}")
    assert cli_args.kubeconfig(None, {"KUBERNETES_SERVICE_HOST": "x"}, home=home) == str(
        home / ".kube/config"
    )


KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: admin@prod
contexts:
- name: dev
  context: {cluster: dev-cluster, user: u}
- name: admin@prod
  context: {cluster: prod-cluster, user: u}
"""


def test_cluster_name_is_the_current_contexts_cluster(tmp_path: Path) -> None:
    path = tmp_path / "kc"
    path.write_text(KUBECONFIG)
    assert cli_args.cluster_name(str(path)) == "prod-cluster"
    assert cli_args.cluster_name(None) == "in-cluster"
    path.write_text(KUBECONFIG.replace("current-context: admin@prod", "current-context: nowhere"))
    with pytest.raises(UsageError, match="--cluster-name"):
        cli_args.cluster_name(str(path))


PREFERENCE = """
apiVersion: clustersnapshot.rywt.io/v1alpha1
kind: RestorePreference
metadata:
  name: p
spec:
  excludeNamespaces: [kube-system]
  restoreOptions: [overwriteExisting]
"""


@pytest.mark.parametrize(
    "text",
    [
        PREFERENCE,
        "excludeNamespaces: [kube-system]\nrestoreOptions: [overwriteExisting]\n",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n" + PREFERENCE,
    ],
)
def test_load_preference(tmp_path: Path, text: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    preference = cli_args.load_preference(path)
    assert preference.exclude_namespaces == frozenset({"kube-system"})
    assert preference.overwrite_existing is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("spec: [unclosed\n", "not valid YAML"),
        ("apiVersion: v1\nkind: Namespace\n", "holds no RestorePreference"),
        (PREFERENCE + "---\n" + PREFERENCE, "holds 2 RestorePreferences"),
        (PREFERENCE.replace("[overwriteExisting]", "[deleteEverything]"), "deleteEverything"),
        (PREFERENCE.replace("[kube-system]", "kube-system"), "excludeNamespaces"),
    ],
)
def test_bad_preference_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(errors.ConfigError, match=message):
        cli_args.load_preference(path)


def test_missing_preference_file_fails_with_exit_1(tmp_path: Path) -> None:
    code, _, err = run("restore", "--file", str(tmp_path / "a.tgz"), "--kubeconfig", "kc",
                       "--preference", str(tmp_path / "missing.yaml"))  # fmt: skip
    assert code == 1
    assert "No such file or directory" in err
    assert "missing.yaml" in err


@pytest.mark.parametrize(
    ("exc", "found"),
    [
        (errors.Forbidden("listing secrets is forbidden"), "listing secrets is forbidden"),
        (ExceptionGroup("tasks", [ValueError("x"), errors.Unauthorized("token expired")]), "token expired"),
        (ExceptionGroup("outer", [ExceptionGroup("inner", [OSError(28, "No space left")])]), "No space left"),
        (ValueError("a bug"), None),
        (ExceptionGroup("tasks", [ValueError("a bug")]), None),
    ],
)
def test_expected_failures_are_found_inside_task_groups(exc: Exception, found: str | None) -> None:
    failure = cli.expected_failure(exc)
    if found is None:
        assert failure is None
    else:
        assert failure is not None and not isinstance(failure, UsageError)
        assert cli.describe(failure) == found
