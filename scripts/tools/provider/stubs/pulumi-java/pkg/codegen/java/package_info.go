// Package java is a stand-in for github.com/pulumi/pulumi-java/pkg/codegen/java.
//
// The docker-build provider imports it only to put a Java entry in its schema's
// language map; the real module cannot be downloaded through the Go module
// proxy here (403 "This module version is not available"), so this declares
// just the fields the provider sets, with the upstream JSON names.
package java

type PackageInfo struct {
	Packages                        map[string]string `json:"packages,omitempty"`
	BasePackage                     string            `json:"basePackage"`
	BuildFiles                      string            `json:"buildFiles"`
	Dependencies                    map[string]string `json:"dependencies,omitempty"`
	GradleNexusPublishPluginVersion string            `json:"gradleNexusPublishPluginVersion"`
	GradleTest                      string            `json:"gradleTest"`
}
