//go:build tools

// Package tools pins the upstream nodejs language host's main package so that
// `go mod tidy` keeps its whole graph in go.mod/go.sum.
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
