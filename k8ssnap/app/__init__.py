"""Entry points: the controller process, the ``k8ssnap`` CLI, the demo, /metrics."""
