"""The real controller process against cluster a, with the flags the tests use."""

from __future__ import annotations

from pathlib import Path

from k8ssnap.devenv import controller


class ControllerProcess(controller.ControllerProcess):
    """A test controller: a 60 s retry budget and housekeeping every 3 s."""

    def __init__(
        self, *, kubeconfig: Path, namespace: str, log: Path, extra: list[str] | None = None
    ) -> None:
        flags = ["--maxretryelapsedsec=60", "--housekeeping-interval=3", *(extra or [])]
        super().__init__(kubeconfig=kubeconfig, namespace=namespace, log=log, extra=flags)
