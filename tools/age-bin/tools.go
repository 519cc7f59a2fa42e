//go:build tools

// Package tools pins age's commands so `go mod tidy` keeps them.
package tools

import (
	_ "filippo.io/age/cmd/age"
	_ "filippo.io/age/cmd/age-keygen"
)
