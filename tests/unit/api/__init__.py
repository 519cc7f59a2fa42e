"""Unit tests of k8ssnap.api and artifacts/crd.yaml."""
