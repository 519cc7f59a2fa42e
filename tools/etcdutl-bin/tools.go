//go:build tools

// Package tools pins etcdutl so `go mod tidy` keeps it.
package tools

import _ "go.etcd.io/etcd/etcdutl/v3"
