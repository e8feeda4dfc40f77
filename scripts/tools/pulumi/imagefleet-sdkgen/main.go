// Command imagefleet-sdkgen writes imagefleet's SDKs from its schema with
// Pulumi's own code generators (pkg/v3/codegen), the ones `pulumi package
// gen-sdk` runs inside each language host. It is built with the CLI because
// the Go and Python language hosts, which gen-sdk would ask, are not served
// by the module proxy here; the generators are the same code.
//
//	imagefleet-sdkgen -schema schema.json -out sdk go python
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	pygen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"

	"github.com/blang/semver"
)

const tool = "imagefleet-sdkgen"

func main() {
	schemaPath := flag.String("schema", "schema.json", "the package schema")
	out := flag.String("out", "sdk", "folder the SDKs go under, one folder per language")
	flag.Parse()
	if err := run(*schemaPath, *out, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", tool, err)
		os.Exit(1)
	}
}

func run(schemaPath, out string, languages []string) error {
	if len(languages) == 0 {
		return fmt.Errorf("name the languages to generate: go, python")
	}
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	for _, lang := range languages {
		// Each generator binds its own copy: binding records its language's options.
		pkg, err := schema.ImportSpec(spec, nil, noPackages{}, schema.ValidationOptions{})
		if err != nil {
			return fmt.Errorf("%s: %w", schemaPath, err)
		}
		var files map[string][]byte
		switch lang {
		case "go":
			files, err = gogen.GeneratePackage(tool, pkg, nil)
		case "python":
			files, err = pygen.GeneratePackage(tool, pkg, nil, noPackages{})
		default:
			return fmt.Errorf("unknown language %q; valid: go, python", lang)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", lang, err)
		}
		dir := filepath.Join(out, lang)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		for name, content := range files {
			path := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, content, 0o644); err != nil {
				return err
			}
		}
		fmt.Printf("%s: %d files in %s\n", lang, len(files), dir)
	}
	return nil
}

// noPackages is the loader for a schema that references no other package:
// imagefleet's takes only its own types and pulumi.json's.
type noPackages struct{}

func (noPackages) LoadPackage(pkg string, _ *semver.Version) (*schema.Package, error) {
	return nil, fmt.Errorf("the schema references package %q; imagefleet's references none", pkg)
}

func (noPackages) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, fmt.Errorf("the schema references package %q; imagefleet's references none", d.Name)
}

func (noPackages) LoadPackageReference(pkg string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, fmt.Errorf("the schema references package %q; imagefleet's references none", pkg)
}

func (noPackages) LoadPackageReferenceV2(_ context.Context, d *schema.PackageDescriptor) (schema.PackageReference, error) {
	return nil, fmt.Errorf("the schema references package %q; imagefleet's references none", d.Name)
}
