//go:build tools

// Package tools pins buildkitd and buildctl. It is a module of its own so that
// BuildKit keeps the dependency versions it was released with, independent of
// the (older) BuildKit library the docker-build provider links.
package tools

import (
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
)
