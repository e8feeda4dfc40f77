//go:build tools

// Package tools pins the docker-build provider's main package so that
// `go mod tidy` keeps its whole graph in go.mod/go.sum.
package tools

import _ "github.com/pulumi/pulumi-docker-build/provider/cmd/pulumi-resource-docker-build"
