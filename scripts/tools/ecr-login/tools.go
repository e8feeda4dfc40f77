//go:build tools

// Package tools pins the Amazon ECR credential helper's main package, which
// the attestor's tarball (scripts/attestor-release.sh) ships so that cosign
// and syft on a fleet host log in to ECR with the host's role.
package tools

import _ "github.com/awslabs/amazon-ecr-credential-helper/ecr-login/cli/docker-credential-ecr-login"
