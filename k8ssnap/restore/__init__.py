"""k8ssnap.restore."""
