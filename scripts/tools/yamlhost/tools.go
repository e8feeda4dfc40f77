//go:build tools

// Package tools pins Pulumi YAML's language host (the e2e tier's YAML program
// declares imagefleet's components through the provider plugin) so that
// `go mod tidy` keeps its whole graph in go.mod/go.sum.
package tools

import _ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
