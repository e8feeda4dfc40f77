// Package codegen is a stand-in for
// github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3/codegen: the
// docker-build provider only uses CSharpPackageInfo for its schema's language
// map, and the real module is refused by the Go module proxy here (403).
package codegen

type CSharpPackageInfo struct {
	PackageReferences      map[string]string `json:"packageReferences,omitempty"`
	Namespaces             map[string]string `json:"namespaces,omitempty"`
	Compatibility          string            `json:"compatibility,omitempty"`
	DictionaryConstructors bool              `json:"dictionaryConstructors,omitempty"`
	RespectSchemaVersion   bool              `json:"respectSchemaVersion,omitempty"`
}
