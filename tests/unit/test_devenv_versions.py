"""The local environment's Kubernetes version settings (stdlib-only devenv)."""

from __future__ import annotations

import pytest

from k8ssnap.devenv import versions


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, {"a": versions.KUBERNETES_VERSION, "b": versions.KUBERNETES_VERSION}),
        ({"K8SSNAP_KUBERNETES_A": "v1.34.4"}, {"a": "v1.34.4", "b": versions.KUBERNETES_VERSION}),
        (
            {"K8SSNAP_KUBERNETES_B": "v1.34.4", "K8SSNAP_KUBERNETES_A": ""},
            {"a": versions.KUBERNETES_VERSION, "b": "v1.34.4"},
        ),
    ],
)
def test_each_cluster_runs_the_default_unless_a_setting_says_otherwise(
    environ: dict[str, str], expected: dict[str, str]
) -> None:
    assert versions.cluster_versions(("a", "b"), environ) == expected


def test_a_version_without_a_recipe_is_refused_before_anything_builds() -> None:
    with pytest.raises(ValueError, match=r"v1\.99\.0.*supported versions are v1\.34\.4, v1\.36\.3"):
        versions.cluster_versions(("a",), {"K8SSNAP_KUBERNETES_A": "v1.99.0"})


def test_every_recipe_has_its_wrapper_module() -> None:
    from k8ssnap.devenv import cache

    for version, folder in versions.KUBERNETES_MODULES.items():
        go_mod = (cache.repo_root() / "tools" / folder / "go.mod").read_text()
        assert f"k8s.io/kubernetes {version}\n" in go_mod
        assert f"k8s.io/api => k8s.io/api v0.{version.split('.', 1)[1]}\n" in go_mod
