//go:build tools

// Package tools pins cosign's main package so that `go mod tidy` keeps its
// whole graph in go.mod/go.sum. A module of its own: cosign keeps the
// dependency versions it was released with, apart from BuildKit's and Pulumi's.
package tools

import _ "github.com/sigstore/cosign/v3/cmd/cosign"
