//go:build tools

// Package tools pins Velero's release so `go mod tidy` keeps it; the benchmark
// builds github.com/vmware-tanzu/velero/cmd/velero (server and CLI in one binary).
package tools

import _ "github.com/vmware-tanzu/velero/pkg/cmd/velero"
