"""I/O adapter for etcd: its gRPC Maintenance and Cluster services, and the PKI folder."""
