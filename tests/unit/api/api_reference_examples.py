"""k8s-snap's own manifests and status examples, copied as test data.

The YAML is verbatim from k8s-snap's README (HEAD 47b9e8d) unless noted;
the status examples are the README's with its ``/*** ... ***/`` comments and
``:`` elisions removed so that they are JSON. Manifests from k8s-snap's
repository (not its README) are marked as such.

:func:`load_yaml` reads YAML the way kubectl does: an unquoted
``2020-07-01T02:03:04Z`` stays a string instead of becoming a datetime.
"""

from __future__ import annotations

from typing import Any

import yaml


class _KubectlLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's timestamp type, like sigs.k8s.io/yaml."""


_KubectlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> dict[str, Any]:
    """One YAML document, as kubectl would send it."""
    loaded = yaml.load(text, Loader=_KubectlLoader)
    assert isinstance(loaded, dict)
    return loaded


def load_yaml_all(text: str) -> list[dict[str, Any]]:
    """Every non-empty YAML document in ``text``."""
    return [doc for doc in yaml.load_all(text, Loader=_KubectlLoader) if doc]


README_CLOUD_CREDENTIAL = """\
apiVersion: v1
kind: Secret
metadata:
  namespace: k8s-snap
  name: k8s-snap-ap-northeast-1
data:
  accesskey: [base64 access_key]
  secretkey: [base64 secret_key]
"""

README_OBJECTSTORE_CONFIG = """\
apiVersion: clustersnapshot.rywt.io/v1alpha1
kind: ObjectstoreConfig
metadata:
  name: k8s-snap-ap-northeast-1
  namespace: k8s-snap
spec:
  region: ap-northeast-1
  endpoint: ap-northeast-1.amazonaws.com
  bucket: k8s-snap
  cloudCredentialSecret: k8s-snap-ap-northeast-1
"""

README_SNAPSHOT = """\
apiVersion: clustersnapshot.rywt.io/v1alpha1
kind: Snapshot
metadata:
  name: cluster01-001
  namespace: k8s-snap
spec:
  clusterName: cluster01
  kubeconfig: |
    apiVersion: v1
    clusters:
    - cluster:
        certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUN3akND...
        server: https://cluster01.kubernetes.rywt.io:6443
      name: cluster
    contexts:
    - context:
        cluster: cluster
        user: remote-user
      name: context
    current-context: context
    kind: Config
    preferences: {}
    users:
    - name: remote-user
      user:
        token: eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.eyJpc3MiOiJrdWJlcm5ldGVz....
  ttl: 720h
  availableUntil: 2020-07-01T02:03:04Z
"""

README_RESTORE = """\
apiVersion: clustersnapshot.rywt.io/v1alpha1
kind: Restore
metadata:
  name: cluster02-cluster01-001-001
  namespace: k8s-backup
spec:
  clusterName: cluster02
  backupName: cluster01-001
  restorePreferenceName: exclude-kube-system
  kubeconfig: |
    apiVersion: v1
    clusters:
    - cluster:
        certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUN3akND...
        server: https://cluster02.kubernetes.rywt.io:6443
      name: cluster
    contexts:
    - context:
        cluster: cluster
        user: remote-user
      name: context
    current-context: context
    kind: Config
    preferences: {}
    users:
    - name: remote-user
      user:
        token: eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.eyJpc3MiOiJrdWJlcm5ldGVz....
  ttl: 168h
  availableUntil: 2020-07-01T01:02:03Z
"""

# From k8s-snap's repository: artifacts/example-snapshot.yaml.
REPO_EXAMPLE_SNAPSHOT = """\
apiVersion: clustersnapshot.rywt.io/v1alpha1
kind: Snapshot
metadata:
  name: cluster01-001
  namespace: k8s-snap
spec:
  clusterName: cluster01
  objectstoreConfig: k8s-snap-ap-northeast-1
  kubeconfig: |
    apiVersion: v1
    clusters:
    - cluster:
        certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUN3akND...
        server: https://cluster01.kubernetes.111.111.111.111.nip.io:6443
      name: cluster
    contexts:
    - context:
        cluster: cluster
        user: remote-user
      name: context
    current-context: context
    kind: Config
    preferences: {}
    users:
    - name: remote-user
      user:
        token: eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9.eyJpc3MiOiJrdWJlcm5ldGVz....
  ttl: 720h
  availableUntil: 2020-07-01T02:03:04Z
"""

# From k8s-snap's repository: pytest/resources/test_06/restore_002.json, templates filled.
# It names the snapshot with snapshotName and carries an objectstoreConfig.
REPO_PYTEST_RESTORE: dict[str, Any] = {
    "apiVersion": "clustersnapshot.rywt.io/v1alpha1",
    "kind": "Restore",
    "metadata": {"name": "target-002-restore-01", "namespace": "k8s-snap"},
    "spec": {
        "clusterName": "target",
        "kubeconfig": "apiVersion: v1\nclusters:\n- cluster:\n    server: https://x:6443\n",
        "objectstoreConfig": "objectstore",
        "snapshotName": "target-002",
        "restorePreferenceName": "preference",
        "ttl": "1h0m0s",
    },
}

# From k8s-snap's repository: pytest/resources/snapshot_001.json, templates filled.
REPO_PYTEST_SNAPSHOT: dict[str, Any] = {
    "apiVersion": "clustersnapshot.rywt.io/v1alpha1",
    "kind": "Snapshot",
    "metadata": {"name": "target-001", "namespace": "k8s-snap"},
    "spec": {
        "clusterName": "target",
        "kubeconfig": "apiVersion: v1\nclusters:\n- cluster:\n    server: https://x:6443\n",
        "objectstoreConfig": "objectstore",
        "ttl": "0h0m30s",
    },
}

# From k8s-snap's repository: artifacts/preference.yaml (commented lines shortened).
REPO_PREFERENCE = """\
apiVersion: clustersnapshot.rywt.io/v1alpha1
kind: RestorePreference
metadata:
  name: exclude-kube-system
  namespace: k8s-snap
spec:
  excludeNamespaces:
    - "kube-system"
    - "kube-public"
    - "ingress-nginx"
  excludeCRDs:
    - "crd.projectcalico.org"
  excludeApiPathes:
  # prefix / prefix,contains
    - "/api/v1,bindings"
    - "/api/v1,componentstatuses"
    - "/api/v1,events"
    - "/api/v1,limitranges"
    - "/api/v1,nodes"
    - "/api/v1,resourcequotas"
    - "/apis/apiregistration.k8s.io"
    # Ignore /apis/extensions path for Apps.
    - "/apis/extensions,daemonsets"
    - "/apis/extensions,deployments"
    - "/apis/extensions,networkpolicies"
    - "/apis/extensions,podsecuritypolicies"
    - "/apis/extensions,replicasets"
    - "/apis/extensions,replicationcontrollers"
    - "/apis/scheduling.k8s.io"
    - "/apis/events.k8s.io"
    - "/apis/certificates.k8s.io"
    - "/apis/networking.k8s.io"
    - "/apis/admissionregistration.k8s.io"
    - "/apis/authentication.k8s.io"
    - "/apis/authorization.k8s.io"
    # Custom resource pathes not matched here will be restored.
    - "/apis/crd.projectcalico.org"
    # Exclude system resource.
    - "/api/v1/namespaces/default/services/kubernetes"
    - "/api/v1/namespaces/default/endpoints/kubernetes"
    - "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3A"
    - "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system%3A"
  restoreAppApiPathes:
  # prefix / prefix,contains
  # Apps must be restored after other resources restored.
    - "/api/v1,pods"
    - "/api/v1,replicationcontrollers"
    - "/apis/apps"
    - "/api/v1,endpoints"
    - "/api/v1,services"
    - "/apis/extensions,ingresses"
    - "/apis/autoscaling,horizontalpodautoscalers"
    - "/apis/batch,jobs"
    - "/apis/batch,cronjobs"
  restoreNfsStorageClasses:
  # prefix
    - "managed-nfs-storage"
  restoreOptions: []
    # - "overwriteExistingResources"
"""

README_SNAPSHOT_COMPLETED_STATUS: dict[str, Any] = {
    "availableUntil": "2019-06-19T03:45:08Z",
    "contents": [
        "/api/v1/namespaces/default/configmaps/kubelet-broken-pipe",
        "/api/v1/namespaces/default/endpoints/kubernetes",
        "/api/v1/namespaces/default/persistentvolumeclaims/test-pvc",
        "/api/v1/namespaces/default/secrets/default-token-gj2xd",
    ],
    "numberOfContents": 429,
    "phase": "Completed",
    "reason": "",
    "snapshotResourceVersion": "4521912",
    "snapshotTimestamp": "2019-05-20T03:45:08Z",
    "storedFileSize": 138145,
    "storedTimestamp": "2019-05-20T03:45:08Z",
}

README_SNAPSHOT_FAILED_STATUS: dict[str, Any] = {
    "availableUntil": None,
    "contents": None,
    "numberOfContents": 0,
    "phase": "Failed",
    "reason": "Unauthorized",
    "snapshotResourceVersion": "",
    "snapshotTimestamp": None,
    "storedFileSize": 0,
    "storedTimestamp": None,
}

README_RESTORE_COMPLETED_STATUS: dict[str, Any] = {
    "alreadyExisted": [
        "/api/v1/namespaces/default",
        "/api/v1/persistentvolumes/pvc-4ae96dfc-625b-11e9-9d94-005056bc5df9",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/remote-user",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/logfilter-controller",
    ],
    "created": [
        "/api/v1/namespaces/fluent-bit",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/clusterrolebinding-dtwx4",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/clusterrolebinding-vmsqk",
        "/api/v1/namespaces/fluent-bit/configmaps/cattle-agent-no-such-host",
    ],
    "excluded": [
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/canal-calico,(not-binded-to-ns)",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/canal-flannel,(not-binded-to-ns)",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/cattle-admin-binding,(not-binded-to-ns)",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/cluster-admin,(not-binded-to-ns)",
    ],
    "failed": None,
    "numAlreadyExisted": 13,
    "numCreated": 46,
    "numExcluded": 50,
    "numFailed": 0,
    "numPreferenceExcluded": 319,
    "numSnapshotContents": 429,
    "numUpdated": 0,
    "phase": "Completed",
    "preserveUntil": "2019-05-27T03:46:15Z",
    "reason": "",
    "restoreResourceVersion": "8514809",
    "restoreTimestamp": "2019-05-20T03:46:15Z",
    "updated": None,
}

README_RESTORE_FAILED_STATUS: dict[str, Any] = {
    "alreadyExisted": None,
    "created": None,
    "excluded": None,
    "failed": None,
    "numAlreadyExisted": 0,
    "numCreated": 0,
    "numExcluded": 0,
    "numFailed": 0,
    "numPreferenceExcluded": 0,
    "numSnapshotContents": 0,
    "numUpdated": 0,
    "phase": "Failed",
    "preserveUntil": None,
    "reason": "Snapshot data is not in status 'Completed'",
    "restoreResourceVersion": "",
    "restoreTimestamp": None,
    "updated": None,
}

#: `kubectl get` columns in k8s-snap's README, in order (NAME is always first).
README_SNAPSHOT_COLUMNS = ("CLUSTERNAME", "BACKUPDATE", "STATUS")
README_RESTORE_COLUMNS = (
    "CLUSTER",
    "SNAPSHOT",
    "TIMESTAMP",
    "RV",
    "EXCLUDED",
    "CREATED",
    "UPDATED",
    "EXIST",
    "FAILED",
    "STATUS",
)
