//go:build tools

// Package tools pins syft's main package so that `go mod tidy` keeps its whole
// graph in go.mod/go.sum. A module of its own: syft keeps the dependency
// versions it was released with.
package tools

import _ "github.com/anchore/syft/cmd/syft"
