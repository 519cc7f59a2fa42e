"""k8ssnap: point-in-time snapshots of every Kubernetes API object, and restores."""

__version__ = "0.1.0"
