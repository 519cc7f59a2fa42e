"""I/O adapter for object stores: :class:`~k8ssnap.store.snapshots.SnapshotStore` (our
vocabulary, the one owner of keys) over the minimal ObjectStore Protocol, and S3."""
