// Command buildkit-probe asks a running buildkitd what its Dockerfile frontend
// decides for a build, for the e2e tier's differential tests against
// imagefleet's offline frontend (scripts/tools/buildkit/frontend): the lint
// subrequest's findings (what `docker buildx build --call=check` prints), the
// local sources of the converted LLB (followpaths, exclude patterns), and the
// files the daemon actually pulls from each local directory when it loads it.
//
//	buildkit-probe --addr tcp://127.0.0.1:1234 --tlscacert ca.pem --tlscert c.pem --tlskey k.pem \
//	  --tlsservername localhost < requests.json
//
// Requests use the frontend runner's JSON ({"builds": [...]}); a named image
// context must be a real image ref the daemon can pull.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/moby/buildkit/client"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	"github.com/tonistiigi/fsutil"
)

type request struct {
	ID         string                       `json:"id"`
	Dockerfile string                       `json:"dockerfile"`
	Context    string                       `json:"context"`
	Target     string                       `json:"target,omitempty"`
	BuildArgs  map[string]string            `json:"buildArgs,omitempty"`
	Platform   string                       `json:"platform"`
	Named      map[string]map[string]string `json:"named,omitempty"`
}

type local struct {
	FollowPaths     []string `json:"followPaths"`
	ExcludePatterns []string `json:"excludePatterns,omitempty"`
	// Files the daemon opened to load the directory: regular files and symlink targets it read.
	Pulled []string `json:"pulled"`
}

type finding struct {
	RuleName string `json:"ruleName,omitempty"`
	Detail   string `json:"detail,omitempty"`
	URL      string `json:"url,omitempty"`
	Message  string `json:"message,omitempty"`
	Line     int    `json:"line,omitempty"`
}

type response struct {
	ID     string            `json:"id"`
	Locals map[string]*local `json:"locals,omitempty"`
	Lint   []finding         `json:"lint"`
	Error  *finding          `json:"buildError,omitempty"`
	Fail   string            `json:"error,omitempty"`
}

// recorder is a local directory that notes every file the daemon opens.
type recorder struct {
	fsutil.FS
	mu     sync.Mutex
	opened map[string]bool
}

func (r *recorder) Open(p string) (io.ReadCloser, error) {
	r.mu.Lock()
	r.opened[filepath.ToSlash(p)] = true
	r.mu.Unlock()
	return r.FS.Open(p)
}

func main() {
	addr := flag.String("addr", "", "buildkitd address")
	ca := flag.String("tlscacert", "", "")
	cert := flag.String("tlscert", "", "")
	key := flag.String("tlskey", "", "")
	server := flag.String("tlsservername", "", "")
	flag.Parse()
	ctx := context.Background()
	opts := []client.ClientOpt{}
	if *ca != "" {
		opts = append(opts, client.WithServerConfig(*server, *ca), client.WithCredentials(*cert, *key))
	}
	c, err := client.New(ctx, *addr, opts...)
	if err != nil {
		fail(err)
	}
	var in struct {
		Builds []request `json:"builds"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail(err)
	}
	out := []response{}
	for _, r := range in.Builds {
		out = append(out, probe(ctx, c, r))
	}
	if err := json.NewEncoder(os.Stdout).Encode(map[string]any{"builds": out}); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "buildkit-probe:", err)
	os.Exit(1)
}

func probe(ctx context.Context, c *client.Client, r request) response {
	res := response{ID: r.ID, Locals: map[string]*local{}, Lint: []finding{}}
	dirs := map[string]string{"context": r.Context, "dockerfile": filepath.Dir(r.Dockerfile)}
	attrs := map[string]string{"filename": filepath.Base(r.Dockerfile), "platform": r.Platform}
	if r.Target != "" {
		attrs["target"] = r.Target
	}
	for k, v := range r.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	for name, n := range r.Named {
		if n["local"] != "" {
			dirs["named-"+name] = n["local"]
			attrs["context:"+name] = "local:named-" + name
		} else {
			attrs["context:"+name] = "docker-image://" + n["image"]
		}
	}
	recorders := map[string]*recorder{}
	mounts := map[string]fsutil.FS{}
	for name, dir := range dirs {
		base, err := fsutil.NewFS(dir)
		if err != nil {
			res.Fail = err.Error()
			return res
		}
		recorders[name] = &recorder{FS: base, opened: map[string]bool{}}
		mounts[name] = recorders[name]
	}
	unique := make([]byte, 8)
	_, _ = rand.Read(unique)
	_, err := c.Build(ctx, client.SolveOpt{LocalMounts: mounts, SharedKey: hex.EncodeToString(unique)}, "imagefleet-probe", func(ctx context.Context, gw gateway.Client) (*gateway.Result, error) {
		ask := func(id string) (map[string][]byte, error) {
			opt := map[string]string{"requestid": id}
			for k, v := range attrs {
				opt[k] = v
			}
			out, err := gw.Solve(ctx, gateway.SolveRequest{Frontend: "dockerfile.v0", FrontendOpt: opt})
			if err != nil {
				return nil, err
			}
			return out.Metadata, nil
		}
		md, err := ask("frontend.lint")
		if err != nil {
			return nil, err
		}
		var lr lint.LintResults
		if err := json.Unmarshal(md["result.json"], &lr); err != nil {
			return nil, err
		}
		for _, w := range lr.Warnings {
			res.Lint = append(res.Lint, finding{RuleName: w.RuleName, Detail: w.Detail, URL: w.URL, Line: line(w.Location)})
		}
		if lr.Error != nil {
			res.Error = &finding{Message: lr.Error.Message, Line: line(&lr.Error.Location)}
			return gateway.NewResult(), nil
		}
		md, err = ask("frontend.convertllb")
		if err != nil {
			return nil, err
		}
		// What the frontend itself read (the ignore files) is not what a build pulls.
		for _, rec := range recorders {
			rec.mu.Lock()
			rec.opened = map[string]bool{}
			rec.mu.Unlock()
		}
		var conv struct {
			Def map[string]json.RawMessage `json:"def"`
		}
		if err := json.Unmarshal(md["result.json"], &conv); err != nil {
			return nil, err
		}
		for _, raw := range conv.Def {
			var op struct {
				Source *struct {
					Identifier string            `json:"identifier"`
					Attrs      map[string]string `json:"attrs"`
				} `json:"source"`
			}
			if err := json.Unmarshal(raw, &op); err != nil || op.Source == nil || !strings.HasPrefix(op.Source.Identifier, "local://") {
				continue
			}
			name := strings.TrimPrefix(op.Source.Identifier, "local://")
			l := &local{}
			if fp, ok := op.Source.Attrs[pb.AttrFollowPaths]; ok {
				_ = json.Unmarshal([]byte(fp), &l.FollowPaths)
			}
			if ex, ok := op.Source.Attrs[pb.AttrExcludePatterns]; ok {
				_ = json.Unmarshal([]byte(ex), &l.ExcludePatterns)
			}
			// Load exactly this source, as the build would: the daemon pulls its files over the session.
			if err := load(ctx, gw, name, op.Source.Attrs); err != nil {
				return nil, err
			}
			res.Locals[strings.TrimPrefix(name, "named-")] = l
		}
		return gateway.NewResult(), nil
	}, nil)
	if err != nil {
		res.Fail = err.Error()
		return res
	}
	for name, l := range res.Locals {
		rec := recorders[name]
		if rec == nil {
			rec = recorders["named-"+name]
		}
		for p := range rec.opened {
			l.Pulled = append(l.Pulled, p)
		}
		sort.Strings(l.Pulled)
		sort.Strings(l.FollowPaths)
	}
	return res
}

// load solves a definition holding only the local source op.
func load(ctx context.Context, gw gateway.Client, name string, attrs map[string]string) error {
	src := &pb.Op{Op: &pb.Op_Source{Source: &pb.SourceOp{Identifier: "local://" + name, Attrs: attrs}}}
	dt, err := src.MarshalVT()
	if err != nil {
		return err
	}
	term := &pb.Op{Inputs: []*pb.Input{{Digest: string(digest.FromBytes(dt)), Index: 0}}}
	tdt, err := term.MarshalVT()
	if err != nil {
		return err
	}
	_, err = gw.Solve(ctx, gateway.SolveRequest{Definition: &pb.Definition{Def: [][]byte{dt, tdt}}, Evaluate: true})
	return err
}

func line(loc *pb.Location) int {
	if loc == nil || len(loc.Ranges) == 0 {
		return 0
	}
	return int(loc.Ranges[0].Start.Line)
}
