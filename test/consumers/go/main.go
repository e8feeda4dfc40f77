// The example family declared from Go, through imagefleet's provider plugin
// and its Go SDK (sdk/go, generated from schema.json): an Automation API
// program, so no Go language host is needed (the module proxy here does not
// serve one). test/e2e/languages.spec.ts runs it:
//
//	go run . -work DIR -plugin PROVIDER_DIR -config key=value ... up|preview
//
// It prints one JSON line: the update's resource changes and the stack's
// outputs, or the error.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/imagefleet/imagefleet/sdk/go/imagefleet/images"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// program declares the example family (example/), as example/family.ts does.
func program(ctx *pulumi.Context) error {
	cfg := config.New(ctx, "")
	image := func(name, kind string, from ...string) images.ImageSpecArgs {
		return images.ImageSpecArgs{
			Name: pulumi.String(name), Kind: images.ImageKind(kind), Context: pulumi.String("example"),
			Dockerfile: pulumi.String(name + ".Dockerfile"), From: pulumi.ToStringArray(from),
		}
	}
	family, err := images.NewImageFamily(ctx, "family", &images.ImageFamilyArgs{
		BaseDir: pulumi.String(cfg.Require("baseDir")),
		Images: images.ImageSpecArray{
			image("dev-env", "dev-env"),
			image("artifact", "artifact", "dev-env"),
			image("runtime", cfg.Get("kind"), "artifact"),
		},
		Builders: pulumi.StringMap{
			"linux/amd64": pulumi.String(cfg.Require("builderAmd64")),
			"linux/arm64": pulumi.String(cfg.Require("builderArm64")),
		},
		Registry: images.RegistrySpecArgs{
			Address: pulumi.String(cfg.Require("registry")), Namespace: pulumi.String(cfg.Require("namespace")),
		},
		BuildArgs: pulumi.StringMap{
			"BASE_IMAGE": pulumi.String(cfg.Require("baseImage")), "BUSYBOX_IMAGE": pulumi.String(cfg.Require("busyboxImage")),
		},
		Git: images.GitSpecArgs{Branch: pulumi.String(cfg.Require("branch")), Sha: pulumi.String(cfg.Require("sha"))},
	})
	if err != nil {
		return err
	}
	ctx.Export("refs", family.Refs)
	return nil
}

type result struct {
	Changes map[string]int         `json:"changes,omitempty"`
	Outputs map[string]interface{} `json:"outputs,omitempty"`
	Error   string                 `json:"error,omitempty"`
}

func main() {
	work := flag.String("work", "", "folder for the project's state and settings (required)")
	plugin := flag.String("plugin", "", "folder holding pulumi-resource-imagefleet (required)")
	var settings multi
	flag.Var(&settings, "config", "key=value stack config (repeatable)")
	flag.Parse()
	res, err := run(context.Background(), *work, *plugin, settings, flag.Arg(0))
	if err != nil {
		res.Error = err.Error()
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if err != nil {
		os.Exit(1)
	}
}

func run(ctx context.Context, work, plugin string, settings []string, verb string) (result, error) {
	project := workspace.Project{
		Name:    "imagefleet-go",
		Runtime: workspace.NewProjectRuntimeInfo("go", nil),
		Backend: &workspace.ProjectBackend{URL: "file://" + work + "/state"},
		Plugins: &workspace.Plugins{Providers: []workspace.PluginOptions{{Name: "imagefleet", Path: plugin}}},
	}
	stack, err := auto.UpsertStackInlineSource(ctx, "local", "imagefleet-go", program,
		auto.Project(project), auto.WorkDir(work), auto.SecretsProvider("passphrase"))
	if err != nil {
		return result{}, err
	}
	for _, kv := range settings {
		k, v, _ := strings.Cut(kv, "=")
		if err := stack.SetConfig(ctx, k, auto.ConfigValue{Value: v}); err != nil {
			return result{}, err
		}
	}
	switch verb {
	case "up":
		up, err := stack.Up(ctx, optup.ProgressStreams(os.Stderr))
		if err != nil {
			return result{}, err
		}
		outputs := map[string]interface{}{}
		for k, v := range up.Outputs {
			outputs[k] = v.Value
		}
		return result{Changes: *up.Summary.ResourceChanges, Outputs: outputs}, nil
	case "preview":
		p, err := stack.Preview(ctx, optpreview.ProgressStreams(os.Stderr))
		if err != nil {
			return result{}, err
		}
		changes := map[string]int{}
		for op, n := range p.ChangeSummary {
			changes[string(op)] = n
		}
		return result{Changes: changes}, nil
	}
	return result{}, fmt.Errorf("unknown verb %q; valid: up, preview", verb)
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
