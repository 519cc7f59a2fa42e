//go:build tools

// Package tools pins the Kubernetes commands that k8ssnap's local
// environment builds; a main package cannot be imported, so the app
// packages stand in for them and keep `go mod tidy` from dropping them.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubectl/pkg/cmd"
)
