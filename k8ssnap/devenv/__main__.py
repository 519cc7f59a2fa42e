"""``python -m k8ssnap.devenv up|down|status``: the local environment for people.

``up`` prints the kubeconfig of each cluster, the S3 endpoint and its keys;
``down`` stops everything. The folder defaults to ``.devenv`` in the current
directory (``--dir`` changes it). ``--kubernetes-a``/``--kubernetes-b`` (or the
settings ``K8SSNAP_KUBERNETES_A``/``_B``) run a cluster on another supported
Kubernetes version; ``build --kubernetes VERSION`` builds one ahead of time.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from k8ssnap.devenv import env, versions


def _describe(info: env.EnvironmentInfo) -> str:
    lines = [f"local environment up in {info.startup_seconds:.1f} s (folder {info.folder})", ""]
    for name, cluster in info.clusters.items():
        version = info.kubernetes.get(name, "")
        lines.append(f"cluster {name}: {cluster.server} {version}".rstrip())
        lines.append(f"  export KUBECONFIG={cluster.kubeconfig}")
        lines.append(f"  {info.kubectl} --kubeconfig {cluster.kubeconfig} get namespaces")
    if info.nodes:
        lines += ["", "a node per cluster (kubelet, containerd, kube-proxy) and a kube-scheduler; images:"]
        lines += [f"  {name}" for name in info.images.values()]
    lines += [
        "",
        f"S3 endpoint: {info.s3.endpoint}  bucket: {info.s3.bucket}  region: {info.s3.region}",
        f"  access key: {info.s3.access_key}",
        f"  secret key: {info.s3.secret_key}",
        "",
        f"stop it all with: python -m k8ssnap.devenv down --dir {info.folder}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``k8ssnap-devenv`` command."""
    parser = argparse.ArgumentParser(prog="k8ssnap-devenv", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status", "build"])
    parser.add_argument("--dir", type=Path, default=Path(".devenv"), help="state and log folder")
    for name in ("a", "b"):
        setting = f"K8SSNAP_KUBERNETES_{name.upper()}"
        parser.add_argument(f"--kubernetes-{name}", metavar="VERSION",
                            help=f"Kubernetes version of cluster {name} "
                                 f"(default: {setting}, else {versions.KUBERNETES_VERSION})")  # fmt: skip
    parser.add_argument("--kubernetes", action="append", metavar="VERSION",
                        help=f"build: these versions (default {versions.KUBERNETES_VERSION})")  # fmt: skip
    parser.add_argument(
        "--nodes",
        action="store_true",
        help="up: a kube-scheduler and a node (kubelet, containerd, kube-proxy) per cluster (root); "
        "build: also the node binaries and images",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = args.dir.resolve()
    chosen = {name: getattr(args, f"kubernetes_{name}") for name in ("a", "b")}
    environment = env.Environment(folder, kubernetes={k: v for k, v in chosen.items() if v}, nodes=args.nodes)
    if args.command == "up":
        print(_describe(environment.up()))
    elif args.command == "down":
        environment.down()
        print(f"stopped the environment in {folder}")
    elif args.command == "build":
        from k8ssnap.devenv import build

        wanted = tuple(args.kubernetes or (versions.KUBERNETES_VERSION,))
        for component, path in build.ensure_all(wanted).items():
            print(f"{component}: {path}")
        if args.nodes:
            from k8ssnap.devenv import hostpkgs, images

            hostpkgs.ensure()
            print(f"node: {build.ensure_node()}")
            for key, image in images.ensure_all().items():
                print(f"image {key}: {image.name} ({image.size >> 20} MB, {image.archive})")
    else:
        print(_describe(env.load(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
