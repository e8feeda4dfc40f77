// Command frontend runs BuildKit's own Dockerfile frontend (the code buildkitd
// runs for `dockerfile.v0`) offline, against a gateway client that serves
// local directories from disk and records what the frontend asks for. For each
// build it answers two questions without a builder:
//
//   - which files of each local context the build reads: the frontend's
//     followpaths and exclude patterns on its local sources, walked with
//     fsutil's filter, the code BuildKit's filesync uses to send a context;
//   - what BuildKit's Dockerfile checks report (the lint subrequest behind
//     `docker buildx build --call=check`).
//
// It is compiled to WebAssembly (GOOS=wasip1) and shipped in the npm package,
// so imagefleet's users need no Go toolchain. Requests come as JSON on stdin,
// answers go as JSON to stdout.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/pkg/errors"
	"github.com/tonistiigi/fsutil"
	fstypes "github.com/tonistiigi/fsutil/types"
)

// Request is one build: a Dockerfile, its context and named contexts.
type Request struct {
	ID         string            `json:"id"`
	Dockerfile string            `json:"dockerfile"`
	Context    string            `json:"context"`
	Target     string            `json:"target,omitempty"`
	BuildArgs  map[string]string `json:"buildArgs,omitempty"`
	Platform   string            `json:"platform"`
	// Named contexts: a local directory, or an image (its content is not read).
	Named map[string]NamedContext `json:"named,omitempty"`
	Lint  bool                    `json:"lint,omitempty"`
	// Files: walk the locals the build reads and list what would be sent.
	Files bool `json:"files,omitempty"`
}

type NamedContext struct {
	Local string `json:"local,omitempty"`
	Image string `json:"image,omitempty"`
}

// Local is what the build reads of one local directory.
type Local struct {
	// Used: the build reads this local at all.
	Used bool `json:"used"`
	// FollowPaths: the paths the frontend asks for; null means the whole directory.
	FollowPaths     []string `json:"followPaths"`
	ExcludePatterns []string `json:"excludePatterns,omitempty"`
	// Whole: the instructions that read the whole directory (when FollowPaths is null).
	Whole []Instruction `json:"whole,omitempty"`
	Files []Entry       `json:"files,omitempty"`
}

type Instruction struct {
	Line int    `json:"line"`
	Text string `json:"text"`
}

type Entry struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
}

type Response struct {
	ID     string            `json:"id"`
	Locals map[string]*Local `json:"locals,omitempty"`
	// Syntax: a `# syntax=` frontend the build would be forwarded to instead of the built-in one.
	Syntax *Syntax `json:"syntax,omitempty"`
	Lint   *Lint   `json:"lint,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// Lint is BuildKit's lint result (subrequests/lint.LintResults) with each
// location as the lines of the Dockerfile, and without the sources.
type Lint struct {
	Warnings []Finding `json:"warnings"`
	Error    *Finding  `json:"buildError,omitempty"`
}

type Finding struct {
	RuleName    string `json:"ruleName,omitempty"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url,omitempty"`
	Detail      string `json:"detail,omitempty"`
	Message     string `json:"message,omitempty"`
	Line        int    `json:"line,omitempty"`
	EndLine     int    `json:"endLine,omitempty"`
}

type Syntax struct {
	Ref  string `json:"ref"`
	Line int    `json:"line"`
	// Builtin: the ref names the upstream Dockerfile frontend's stable channel,
	// whose reads the built-in frontend computes the same way.
	Builtin bool `json:"builtin"`
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		serve()
		return
	}
	var reqs struct {
		Builds []Request `json:"builds"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&reqs); err != nil {
		fmt.Fprintln(os.Stderr, "frontend: bad request:", err)
		os.Exit(2)
	}
	if err := json.NewEncoder(os.Stdout).Encode(answer(reqs.Builds)); err != nil {
		fmt.Fprintln(os.Stderr, "frontend:", err)
		os.Exit(1)
	}
}

// serve answers one request per line until stdin closes: a caller that asks
// many times (a test run, a program with several families) pays the module's
// start-up once.
func serve() {
	in := bufio.NewReaderSize(patientReader{os.Stdin}, 1<<20)
	out := json.NewEncoder(os.Stdout)
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			var reqs struct {
				Builds []Request `json:"builds"`
			}
			if err := json.Unmarshal(line, &reqs); err != nil {
				fmt.Fprintln(os.Stderr, "frontend: bad request:", err)
				os.Exit(2)
			}
			if err := out.Encode(answer(reqs.Builds)); err != nil {
				fmt.Fprintln(os.Stderr, "frontend:", err)
				os.Exit(1)
			}
		}
		if err != nil {
			return
		}
	}
}

// patientReader waits out EAGAIN: under Node's WASI a pipe may be in
// non-blocking mode, and an empty one is not the end of the input.
type patientReader struct{ f *os.File }

func (r patientReader) Read(p []byte) (int, error) {
	for {
		n, err := r.f.Read(p)
		if n > 0 || err == nil || !errors.Is(err, syscall.EAGAIN) {
			return n, err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func answer(builds []Request) map[string]any {
	out := make([]Response, 0, len(builds))
	for _, r := range builds {
		out = append(out, run(r))
	}
	return map[string]any{"builds": out}
}

// stableFrontend: docker/dockerfile:1, :1.x, :1.x.y (not -labs or other channels).
var stableFrontend = regexp.MustCompile(`^(docker\.io/)?docker/dockerfile:1(\.\d+){0,2}(@sha256:[0-9a-f]{64})?$`)

func run(r Request) Response {
	res := Response{ID: r.ID}
	dt, err := os.ReadFile(r.Dockerfile)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	opts := buildOpts(r)
	if ref, _, loc, ok := parser.DetectSyntax(dt); ok {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		res.Syntax = &Syntax{Ref: ref, Line: line, Builtin: stableFrontend.MatchString(ref)}
		if !res.Syntax.Builtin {
			return res
		}
		// What a forwarded frontend receives: it then builds itself.
		opts["cmdline"] = ref
	}
	locals := map[string]string{
		"context":    r.Context,
		"dockerfile": filepath.Dir(r.Dockerfile),
	}
	for name, n := range r.Named {
		if n.Local != "" {
			locals["named-"+name] = n.Local
		}
	}

	ctx := context.Background()
	c := newGateway(r, opts, locals)
	if _, err := build(ctx, c); err != nil {
		res.Error = err.Error()
		return res
	}
	res.Locals = map[string]*Local{}
	for name, dir := range locals {
		if name == "dockerfile" {
			continue
		}
		l := c.readOf(name)
		for i, w := range l.Whole {
			l.Whole[i].Text = lineText(dt, w.Line)
		}
		if r.Files && l.Used {
			files, err := walk(dir, l)
			if err != nil {
				res.Error = err.Error()
				return res
			}
			l.Files = files
		}
		res.Locals[strings.TrimPrefix(name, "named-")] = l
	}
	if r.Lint {
		lintOpts := buildOpts(r)
		for k, v := range opts {
			lintOpts[k] = v
		}
		lintOpts["requestid"] = "frontend.lint"
		lc := newGateway(r, lintOpts, locals)
		out, err := build(ctx, lc)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		var lr lint.LintResults
		if err := json.Unmarshal(out.Metadata["result.json"], &lr); err != nil {
			res.Error = err.Error()
			return res
		}
		res.Lint = &Lint{Warnings: []Finding{}}
		for _, w := range lr.Warnings {
			f := Finding{RuleName: w.RuleName, Description: w.Description, URL: w.URL, Detail: w.Detail}
			f.Line, f.EndLine = lines(w.Location)
			res.Lint.Warnings = append(res.Lint.Warnings, f)
		}
		if lr.Error != nil {
			f := Finding{Message: lr.Error.Message}
			f.Line, f.EndLine = lines(&lr.Error.Location)
			res.Lint.Error = &f
		}
	}
	return res
}

func lines(loc *pb.Location) (int, int) {
	if loc == nil || len(loc.Ranges) == 0 {
		return 0, 0
	}
	start, end := int(loc.Ranges[0].Start.Line), int(loc.Ranges[0].End.Line)
	for _, r := range loc.Ranges[1:] {
		start, end = min(start, int(r.Start.Line)), max(end, int(r.End.Line))
	}
	return start, end
}

func lineText(dt []byte, line int) string {
	all := strings.Split(string(dt), "\n")
	if line < 1 || line > len(all) {
		return ""
	}
	return strings.TrimSpace(all[line-1])
}

func buildOpts(r Request) map[string]string {
	opts := map[string]string{
		"filename": filepath.Base(r.Dockerfile),
		"platform": r.Platform,
	}
	if r.Target != "" {
		opts["target"] = r.Target
	}
	for k, v := range r.BuildArgs {
		opts["build-arg:"+k] = v
	}
	for name, n := range r.Named {
		if n.Local != "" {
			opts["context:"+name] = "local:named-" + name
		} else {
			ref := n.Image
			if ref == "" {
				ref = "imagefleet.invalid/" + name + ":named"
			}
			opts["context:"+name] = "docker-image://" + ref
		}
	}
	return opts
}

// walk lists what BuildKit's filesync would send of dir for this local: the
// same fsutil filter with the frontend's include, exclude and follow paths.
func walk(dir string, l *Local) ([]Entry, error) {
	base, err := fsutil.NewFS(dir)
	if err != nil {
		return nil, err
	}
	fs, err := fsutil.NewFilterFS(base, &fsutil.FilterOpt{
		ExcludePatterns: l.ExcludePatterns,
		FollowPaths:     l.FollowPaths,
	})
	if err != nil {
		return nil, err
	}
	var entries []Entry
	err = fs.Walk(context.Background(), "", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		kind := "file"
		switch {
		case d.IsDir():
			kind = "dir"
		case d.Type()&os.ModeSymlink != 0:
			kind = "symlink"
		case !d.Type().IsRegular():
			kind = "other"
		}
		entries = append(entries, Entry{Path: filepath.ToSlash(p), Kind: kind})
		return nil
	})
	return entries, err
}

// build is the Dockerfile frontend's entry point, as BuildKit's
// frontend/dockerfile/builder.Build runs it, less what needs a live daemon:
// forwarding to a `# syntax=` image (run decides that before) and SBOM scans.
// builder.Build itself cannot be compiled for wasip1 (its SBOM scanner links a
// containerd content store), so its glue is repeated here; the work is done by
// dockerui and dockerfile2llb, unchanged.
func build(ctx context.Context, c gwclient.Client) (*gwclient.Result, error) {
	bc, err := dockerui.NewClient(c)
	if err != nil {
		return nil, err
	}
	src, err := bc.ReadEntrypoint(ctx, "Dockerfile")
	if err != nil {
		return nil, err
	}
	convertOpt := dockerfile2llb.ConvertOpt{
		Config:       bc.Config,
		Client:       bc,
		SourceMap:    src.SourceMap,
		MetaResolver: c.(*gateway),
		// As builder.Build: with a Warn function the linter runs during the
		// build too, so `# check=error=true` fails it as it fails on buildkitd.
		Warn: func(string, string, string, string, []parser.Range) {},
	}
	if res, ok, err := bc.HandleSubrequest(ctx, dockerui.RequestHandler{
		Lint: func(ctx context.Context) (*lint.LintResults, error) {
			return dockerfile2llb.DockerfileLint(ctx, src.Data, convertOpt)
		},
	}); err != nil || ok {
		return res, err
	}
	rb, err := bc.Build(ctx, func(ctx context.Context, platform *ocispecs.Platform, idx int) (*dockerui.BuildResult, error) {
		opt := convertOpt
		opt.BuildArgs = maps.Clone(opt.BuildArgs)
		opt.TargetPlatform = platform
		dfRes, err := dockerfile2llb.Dockerfile2LLB(ctx, src.Data, opt)
		if err != nil {
			return nil, err
		}
		def, err := dfRes.State.Marshal(ctx)
		if err != nil {
			return nil, errors.Wrap(err, "failed to marshal LLB definition")
		}
		r, err := c.Solve(ctx, gwclient.SolveRequest{Definition: def.ToPB()})
		if err != nil {
			return nil, err
		}
		ref, err := r.SingleRef()
		if err != nil {
			return nil, err
		}
		return &dockerui.BuildResult{Reference: ref, Image: dfRes.Image, BaseImage: dfRes.BaseImage, Epoch: dfRes.Epoch}, nil
	})
	if err != nil {
		return nil, err
	}
	return rb.Finalize()
}

// gateway is a frontend's view of BuildKit: options, and Solve for the
// definitions the frontend builds. Local sources are served from disk; every
// definition solved is kept so the reads of the final one can be inspected.
type gateway struct {
	req    Request
	opts   gwclient.BuildOpts
	locals map[string]string
	defs   []*pb.Definition
}

func newGateway(r Request, opts map[string]string, locals map[string]string) *gateway {
	p := platforms.Normalize(platforms.MustParse(r.Platform))
	return &gateway{
		req:    r,
		locals: locals,
		opts: gwclient.BuildOpts{
			Opts:      opts,
			SessionID: "imagefleet",
			Product:   "imagefleet-frontend",
			Workers:   []gwclient.WorkerInfo{{ID: "imagefleet", Platforms: []ocispecs.Platform{p}}},
			LLBCaps:   pb.Caps.CapSet(pb.Caps.All()),
			Caps:      gwpb.Caps.CapSet(gwpb.Caps.All()),
		},
	}
}

func (g *gateway) BuildOpts() gwclient.BuildOpts { return g.opts }

func (g *gateway) Solve(ctx context.Context, req gwclient.SolveRequest) (*gwclient.Result, error) {
	if req.Frontend != "" {
		return nil, errors.Errorf("frontend %s is not available offline", req.Frontend)
	}
	if req.Definition == nil {
		return &gwclient.Result{}, nil
	}
	g.defs = append(g.defs, req.Definition)
	head, err := headLocal(req.Definition)
	if err != nil {
		return nil, err
	}
	res := gwclient.NewResult()
	res.SetRef(&ref{g: g, local: head})
	return res, nil
}

func (g *gateway) ResolveImageConfig(ctx context.Context, name string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	cfg, dgst := stubImage(opt)
	return name, dgst, cfg, nil
}

func (g *gateway) ResolveSourceMetadata(ctx context.Context, op *pb.SourceOp, opt sourceresolver.Opt) (*sourceresolver.MetaResponse, error) {
	resp := &sourceresolver.MetaResponse{Op: op}
	if strings.HasPrefix(op.Identifier, "docker-image://") {
		cfg, dgst := stubImage(opt)
		resp.Image = &sourceresolver.ResolveImageResponse{Digest: dgst, Config: cfg}
	}
	return resp, nil
}

// stubImage: a base image is not fetched offline; it is an empty image of the
// requested platform (the frontend adds the default PATH itself).
func stubImage(opt sourceresolver.Opt) ([]byte, digest.Digest) {
	p := platforms.DefaultSpec()
	if opt.ImageOpt != nil && opt.ImageOpt.Platform != nil {
		p = *opt.ImageOpt.Platform
	}
	img := ocispecs.Image{Platform: p, RootFS: ocispecs.RootFS{Type: "layers"}}
	dt, _ := json.Marshal(img)
	return dt, digest.FromBytes(dt)
}

func (g *gateway) Inputs(ctx context.Context) (map[string]llb.State, error) {
	return map[string]llb.State{}, nil
}

func (g *gateway) NewContainer(ctx context.Context, req gwclient.NewContainerRequest) (gwclient.Container, error) {
	return nil, errors.New("containers are not available offline")
}

func (g *gateway) Warn(ctx context.Context, dgst digest.Digest, msg string, opts gwclient.WarnOpts) error {
	return nil
}

// headLocal: the local source a definition ends in, if it is one (the
// frontend reads its Dockerfile and ignore files that way).
func headLocal(def *pb.Definition) (string, error) {
	if len(def.Def) == 0 {
		return "", nil
	}
	var op pb.Op
	if err := op.UnmarshalVT(def.Def[len(def.Def)-1]); err != nil {
		return "", err
	}
	// The last op is the terminal one; its single input is the head.
	if len(op.Inputs) != 1 {
		return "", nil
	}
	byDigest := map[digest.Digest]*pb.Op{}
	for _, dt := range def.Def {
		var o pb.Op
		if err := o.UnmarshalVT(dt); err != nil {
			return "", err
		}
		byDigest[digest.FromBytes(dt)] = &o
	}
	head := byDigest[digest.Digest(op.Inputs[0].Digest)]
	if head == nil || head.GetSource() == nil {
		return "", nil
	}
	return strings.TrimPrefix(head.GetSource().Identifier, "local://"), nil
}

// readOf: what the last definition the frontend solved (the build) reads of one local.
func (g *gateway) readOf(name string) *Local {
	l := &Local{}
	if len(g.defs) == 0 {
		return l
	}
	def := g.defs[len(g.defs)-1]
	ops := map[digest.Digest]*pb.Op{}
	for _, dt := range def.Def {
		var o pb.Op
		if err := o.UnmarshalVT(dt); err != nil {
			continue
		}
		ops[digest.FromBytes(dt)] = &o
	}
	var sources []digest.Digest
	for dgst, o := range ops {
		src := o.GetSource()
		if src == nil || src.Identifier != "local://"+name {
			continue
		}
		sources = append(sources, dgst)
		l.Used = true
		if fp, ok := src.Attrs[pb.AttrFollowPaths]; ok {
			var paths []string
			if err := json.Unmarshal([]byte(fp), &paths); err == nil {
				l.FollowPaths = append(l.FollowPaths, paths...)
			}
		} else {
			l.FollowPaths = nil
		}
		if ex, ok := src.Attrs[pb.AttrExcludePatterns]; ok {
			_ = json.Unmarshal([]byte(ex), &l.ExcludePatterns)
		}
	}
	if l.Used && l.FollowPaths == nil {
		l.Whole = wholeReads(def, ops, sources)
	}
	sort.Strings(l.FollowPaths)
	return l
}

// wholeReads: the instructions (by source location) that take the whole local:
// a copy of its root, or a mount of its root.
func wholeReads(def *pb.Definition, ops map[digest.Digest]*pb.Op, sources []digest.Digest) []Instruction {
	isSource := map[string]bool{}
	for _, s := range sources {
		isSource[string(s)] = true
	}
	root := func(p string) bool { return p == "" || path.Clean("/"+p) == "/" }
	var lines []int
	for dgst, o := range ops {
		whole := false
		if f := o.GetFile(); f != nil {
			for _, a := range f.Actions {
				if cp := a.GetCopy(); cp != nil && a.SecondaryInput >= 0 && int(a.SecondaryInput) < len(o.Inputs) &&
					isSource[o.Inputs[a.SecondaryInput].Digest] && root(cp.Src) {
					whole = true
				}
			}
		}
		if e := o.GetExec(); e != nil {
			for _, m := range e.Mounts {
				if m.Input >= 0 && int(m.Input) < len(o.Inputs) && isSource[o.Inputs[m.Input].Digest] && root(m.Selector) {
					whole = true
				}
			}
		}
		if !whole || def.Source == nil {
			continue
		}
		if locs, ok := def.Source.Locations[string(dgst)]; ok {
			for _, loc := range locs.Locations {
				for _, r := range loc.Ranges {
					lines = append(lines, int(r.Start.Line))
				}
			}
		}
	}
	sort.Ints(lines)
	var out []Instruction
	for i, l := range lines {
		if i == 0 || lines[i-1] != l {
			out = append(out, Instruction{Line: l})
		}
	}
	return out
}

// ref serves reads of a local source from its directory on disk.
type ref struct {
	g     *gateway
	local string
}

func (r *ref) dir() (string, error) {
	d, ok := r.g.locals[r.local]
	if !ok {
		return "", errors.Errorf("no local %q", r.local)
	}
	return d, nil
}

func (r *ref) ToState() (llb.State, error)        { return llb.Scratch(), nil }
func (r *ref) Evaluate(ctx context.Context) error { return nil }

func (r *ref) ReadFile(ctx context.Context, req gwclient.ReadRequest) ([]byte, error) {
	d, err := r.dir()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(d, filepath.FromSlash(req.Filename)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if req.Range != nil {
		if _, err := f.Seek(int64(req.Range.Offset), io.SeekStart); err != nil {
			return nil, err
		}
		return io.ReadAll(io.LimitReader(f, int64(req.Range.Length)))
	}
	return io.ReadAll(f)
}

func (r *ref) StatFile(ctx context.Context, req gwclient.StatRequest) (*fstypes.Stat, error) {
	d, err := r.dir()
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(filepath.Join(d, filepath.FromSlash(req.Path)))
	if err != nil {
		return nil, err
	}
	return &fstypes.Stat{Path: req.Path, Mode: uint32(fi.Mode()), Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}, nil
}

func (r *ref) ReadDir(ctx context.Context, req gwclient.ReadDirRequest) ([]*fstypes.Stat, error) {
	return nil, errors.New("ReadDir is not available offline")
}
