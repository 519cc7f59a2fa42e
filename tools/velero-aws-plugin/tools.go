//go:build tools

// Package tools pins Velero's AWS object-store plugin release; the benchmark
// builds github.com/vmware-tanzu/velero-plugin-for-aws/velero-plugin-for-aws.
package tools
