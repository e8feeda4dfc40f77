// Command imagefleet-attestor runs beside buildkitd on a builder host and
// attests what that host pushes. For every completed build in BuildKit's
// history that exported an image to a registry, it takes the SLSA v1
// provenance BuildKit itself recorded for the build (not anything the client
// sent), makes an SPDX SBOM of the pushed manifest with syft, and attaches
// both to that manifest's digest as in-toto attestations signed by cosign with
// the host's key. The build's client never holds that key.
//
//	imagefleet-attestor --addr unix:///run/buildkit/attestor.sock \
//	  --key /etc/imagefleet/attestor/cosign.key --password-file /etc/imagefleet/attestor/password \
//	  --builder-id https://imagefleet.dev/hosts/amd64-1 --state /var/lib/imagefleet-attestor
//
// The key is anything `cosign attest --key` takes: a key file (with
// COSIGN_PASSWORD from --password-file) or a KMS reference (`awskms://…`).
//
// Attested records are kept in <state>/attested.jsonl, so a restart attests what
// it missed (BuildKit replays its stored records to a new listener) and
// nothing twice. A record that still fails after --retries attempts is
// appended to <state>/failed.jsonl and logged; it is never skipped silently.
//
// Why not more of our own code: the history API and the content store are
// BuildKit's client; the statement, signature, bundle and referrer are
// cosign's; the SBOM is syft's. This program only connects them.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/content/proxy"
	"github.com/distribution/reference"
	controlapi "github.com/moby/buildkit/api/services/control"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	predicateTypeKey = "in-toto.io/predicate-type"
	slsaV1           = "https://slsa.dev/provenance/v1"
)

type options struct {
	addr, caCert, cert, key, serverName string
	signKey, passwordFile               string
	builderID, stateDir                 string
	cosign, syft                        string
	retries                             int
	retryDelay                          time.Duration
	once                                bool
}

// entry is one line of attested.jsonl or failed.jsonl.
type entry struct {
	Ref        string    `json:"ref"`
	Subject    string    `json:"subject"`
	Repository string    `json:"repository,omitempty"`
	Digest     string    `json:"digest,omitempty"`
	BuilderID  string    `json:"builderId"`
	Error      string    `json:"error,omitempty"`
	Attempts   int       `json:"attempts,omitempty"`
	Time       time.Time `json:"time"`
}

type attestor struct {
	opt      options
	c        *client.Client
	store    content.Store
	mu       sync.Mutex
	done     map[string]bool // refs of the records attested (a rebuild of a digest is a new record, attested again)
	password string
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "unix:///run/buildkit/attestor.sock", "buildkitd address")
	flag.StringVar(&o.caCert, "tlscacert", "", "CA certificate, for a tcp:// address")
	flag.StringVar(&o.cert, "tlscert", "", "client certificate, for a tcp:// address")
	flag.StringVar(&o.key, "tlskey", "", "client key, for a tcp:// address")
	flag.StringVar(&o.serverName, "tlsservername", "", "server name to verify, for a tcp:// address")
	flag.StringVar(&o.signKey, "key", "", "cosign signing key: a key file or a KMS reference (awskms://…)")
	flag.StringVar(&o.passwordFile, "password-file", "", "file holding the key file's password (COSIGN_PASSWORD)")
	flag.StringVar(&o.builderID, "builder-id", "", "runDetails.builder.id written into every provenance (this host's identity)")
	flag.StringVar(&o.stateDir, "state", "/var/lib/imagefleet-attestor", "directory for attested.jsonl and failed.jsonl")
	flag.StringVar(&o.cosign, "cosign", "cosign", "cosign binary")
	flag.StringVar(&o.syft, "syft", "syft", "syft binary")
	flag.IntVar(&o.retries, "retries", 5, "attempts per record before it is reported as failed")
	flag.DurationVar(&o.retryDelay, "retry-delay", 3*time.Second, "delay before the first retry (doubles each time)")
	flag.BoolVar(&o.once, "once", false, "attest the stored records, then exit (non-zero if any failed)")
	flag.Parse()
	if o.signKey == "" || o.builderID == "" {
		log.Fatal("imagefleet-attestor: --key and --builder-id are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := newAttestor(ctx, o)
	if err != nil {
		log.Fatalf("imagefleet-attestor: %v", err)
	}
	if err := a.run(ctx); err != nil && ctx.Err() == nil {
		log.Fatalf("imagefleet-attestor: %v", err)
	}
}

func newAttestor(ctx context.Context, o options) (*attestor, error) {
	if err := os.MkdirAll(o.stateDir, 0o700); err != nil {
		return nil, err
	}
	a := &attestor{opt: o, done: map[string]bool{}}
	if o.passwordFile != "" {
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return nil, err
		}
		a.password = strings.TrimRight(string(b), "\r\n")
	}
	if err := a.loadDone(); err != nil {
		return nil, err
	}
	var copts []client.ClientOpt
	if o.caCert != "" {
		copts = append(copts, client.WithServerConfig(o.serverName, o.caCert))
	}
	if o.cert != "" {
		copts = append(copts, client.WithCredentials(o.cert, o.key))
	}
	c, err := client.New(ctx, o.addr, copts...)
	if err != nil {
		return nil, err
	}
	a.c = c
	a.store = proxy.NewContentStore(c.ContentClient())
	return a, nil
}

func (a *attestor) loadDone() error {
	f, err := os.Open(filepath.Join(a.opt.stateDir, "attested.jsonl"))
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		var e entry
		if json.Unmarshal(s.Bytes(), &e) == nil && e.Ref != "" {
			a.done[e.Ref] = true
		}
	}
	return s.Err()
}

func (a *attestor) appendEntry(file string, e entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(a.opt.stateDir, file), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		log.Printf("writing %s: %v", file, err)
		return
	}
	defer f.Close()
	b, _ := json.Marshal(e)
	f.Write(append(b, '\n'))
	if file == "attested.jsonl" {
		a.done[e.Ref] = true
	}
}

// run listens to the history and attests each completed record, one at a
// time: the records of one host are few, and one at a time keeps cosign's
// read-modify-write of a subject's referrers tag from racing itself.
func (a *attestor) run(ctx context.Context) error {
	for {
		err := a.listen(ctx)
		if a.opt.once || ctx.Err() != nil {
			return err
		}
		log.Printf("history stream ended (%v); reconnecting", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

func (a *attestor) listen(ctx context.Context) error {
	connected := time.Now()
	stream, err := a.c.ControlClient().ListenBuildHistory(ctx, &controlapi.BuildHistoryRequest{EarlyExit: a.opt.once})
	if err != nil {
		return err
	}
	// BuildKit first replays every stored record to a new listener, then
	// streams new ones. After a restart on a host with a long history, the
	// replay would hold a build that just pushed (and that a promotion may be
	// waiting on) behind every older record, so records that completed
	// before this listener connected wait until no newer one is queued.
	q := newQueue()
	received := make(chan error, 1)
	go func() {
		for {
			ev, err := stream.Recv()
			if err != nil {
				q.close()
				received <- err
				return
			}
			if ev.Type != controlapi.BuildHistoryEventType_COMPLETE || ev.Record == nil {
				continue
			}
			completed := ev.Record.CompletedAt
			q.push(ev.Record, completed != nil && completed.AsTime().Before(connected))
		}
	}()
	failed := 0
	for {
		rec, ok := q.pop(ctx)
		if !ok {
			break
		}
		if !a.handle(ctx, rec) {
			failed++
		}
	}
	err = <-received
	if a.opt.once && failed > 0 {
		return fmt.Errorf("%d record(s) failed; see %s", failed, filepath.Join(a.opt.stateDir, "failed.jsonl"))
	}
	if a.opt.once && errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// queue holds the records still to attest: new ones in the order they
// completed, first; then the replayed backlog, the latest completed first.
// BuildKit replays its records in the order of their refs (random ids), not
// of time, so the backlog is ordered here, at each pop.
type queue struct {
	mu      sync.Mutex
	cond    *sync.Cond
	live    []*controlapi.BuildHistoryRecord
	backlog []*controlapi.BuildHistoryRecord
	closed  bool
}

func newQueue() *queue {
	q := &queue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *queue) push(rec *controlapi.BuildHistoryRecord, replayed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if replayed {
		q.backlog = append(q.backlog, rec)
	} else {
		q.live = append(q.live, rec)
	}
	q.cond.Signal()
}

func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// pop waits for a record; false once the stream ended and nothing is left,
// or when ctx is done.
func (q *queue) pop(ctx context.Context) (*controlapi.BuildHistoryRecord, bool) {
	stop := context.AfterFunc(ctx, q.close)
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.live) == 0 && len(q.backlog) == 0 && !q.closed {
		q.cond.Wait()
	}
	switch {
	case ctx.Err() != nil:
		return nil, false
	case len(q.live) > 0:
		rec := q.live[0]
		q.live = q.live[1:]
		return rec, true
	case len(q.backlog) > 0:
		latest := 0
		for i, r := range q.backlog {
			if completedAt(r).After(completedAt(q.backlog[latest])) {
				latest = i
			}
		}
		rec := q.backlog[latest]
		q.backlog = append(q.backlog[:latest], q.backlog[latest+1:]...)
		return rec, true
	}
	return nil, false
}

// completedAt is when a record's build completed; the zero time when BuildKit did not say.
func completedAt(r *controlapi.BuildHistoryRecord) time.Time {
	if r.CompletedAt == nil {
		return time.Time{}
	}
	return r.CompletedAt.AsTime()
}

// export is what a record pushed to a registry.
type export struct {
	repository string
	digest     digest.Digest
}

// pushedImage reads the image a record pushed: an image exporter with
// push=true, its name, and the manifest it exported (the exporter's answer,
// or the record's result descriptor, which is what BuildKit keeps).
func pushedImage(rec *controlapi.BuildHistoryRecord) (*export, string) {
	name := ""
	for _, e := range rec.Exporters {
		if e.Type == client.ExporterImage && e.Attrs["push"] == "true" {
			name = e.Attrs["name"]
		}
	}
	if name == "" || rec.Error != nil {
		return nil, ""
	}
	if n := rec.ExporterResponse[exptypes.ExporterImageNameKey]; n != "" {
		name = n
	}
	d := rec.ExporterResponse[exptypes.ExporterImageDigestKey]
	if d == "" && rec.Result != nil && rec.Result.ResultDeprecated != nil {
		d = rec.Result.ResultDeprecated.Digest
	}
	dgst, err := digest.Parse(d)
	if err != nil {
		return nil, "no manifest digest in the record"
	}
	first := strings.TrimSpace(strings.Split(name, ",")[0])
	named, err := reference.ParseNormalizedNamed(first)
	if err != nil {
		return nil, fmt.Sprintf("image name %q: %v", first, err)
	}
	return &export{repository: named.Name(), digest: dgst}, ""
}

// handle attests one record, retrying; false when it failed for good.
func (a *attestor) handle(ctx context.Context, rec *controlapi.BuildHistoryRecord) bool {
	exp, problem := pushedImage(rec)
	if exp == nil && problem == "" {
		return true // not pushed anywhere: nothing to attest
	}
	a.mu.Lock()
	seen := a.done[rec.Ref]
	a.mu.Unlock()
	if seen {
		return true
	}
	subject := ""
	if exp != nil {
		subject = exp.repository + "@" + exp.digest.String()
	}
	e := entry{Ref: rec.Ref, Subject: subject, BuilderID: a.opt.builderID}
	if exp != nil {
		e.Repository, e.Digest = exp.repository, exp.digest.String()
	}
	if problem != "" {
		e.Error, e.Time = problem, time.Now().UTC()
		log.Printf("record %s: cannot attest: %s", rec.Ref, problem)
		a.appendEntry("failed.jsonl", e)
		return false
	}
	// Keep the record (and its provenance blob) from BuildKit's GC while we work.
	if _, err := a.c.ControlClient().UpdateBuildHistory(ctx, &controlapi.UpdateBuildHistoryRequest{Ref: rec.Ref, Pinned: true}); err != nil {
		log.Printf("record %s: pinning: %v", rec.Ref, err)
	} else {
		defer a.c.ControlClient().UpdateBuildHistory(context.WithoutCancel(ctx), &controlapi.UpdateBuildHistoryRequest{Ref: rec.Ref, Pinned: false})
	}
	delay := a.opt.retryDelay
	var err error
	for attempt := 1; attempt <= a.opt.retries; attempt++ {
		start := time.Now()
		if err = a.attest(ctx, rec, exp); err == nil {
			e.Time = time.Now().UTC()
			a.appendEntry("attested.jsonl", e)
			log.Printf("attested %s (record %s) in %.1fs", subject, rec.Ref, time.Since(start).Seconds())
			return true
		}
		e.Attempts = attempt
		log.Printf("record %s: attempt %d/%d: %v", rec.Ref, attempt, a.opt.retries, err)
		if ctx.Err() != nil {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay *= 2
	}
	e.Error, e.Time = err.Error(), time.Now().UTC()
	a.appendEntry("failed.jsonl", e)
	log.Printf("FAILED to attest %s (record %s) after %d attempts: %v", subject, rec.Ref, a.opt.retries, err)
	return false
}

// provenance is the SLSA v1 predicate BuildKit recorded for the build, with
// runDetails.builder.id set to this host: the client may put any builder id
// into its build request, so the signer states its own.
func (a *attestor) provenance(ctx context.Context, rec *controlapi.BuildHistoryRecord) ([]byte, error) {
	if rec.Result == nil {
		return nil, fmt.Errorf("the record has no result (multi-platform builds are not attested per platform)")
	}
	for _, d := range rec.Result.Attestations {
		if d.Annotations[predicateTypeKey] != slsaV1 {
			continue
		}
		dt, err := content.ReadBlob(ctx, a.store, ocispecs.Descriptor{Digest: digest.Digest(d.Digest), Size: d.Size, MediaType: d.MediaType})
		if err != nil {
			return nil, fmt.Errorf("reading the provenance blob %s: %w", d.Digest, err)
		}
		var pred map[string]any
		if err := json.Unmarshal(dt, &pred); err != nil {
			return nil, fmt.Errorf("provenance blob %s: %w", d.Digest, err)
		}
		run, _ := pred["runDetails"].(map[string]any)
		if run == nil {
			run = map[string]any{}
			pred["runDetails"] = run
		}
		builder, _ := run["builder"].(map[string]any)
		if builder == nil {
			builder = map[string]any{}
			run["builder"] = builder
		}
		builder["id"] = a.opt.builderID
		return json.Marshal(pred)
	}
	return nil, fmt.Errorf("the record holds no %s provenance", slsaV1)
}

func (a *attestor) attest(ctx context.Context, rec *controlapi.BuildHistoryRecord, exp *export) error {
	pred, err := a.provenance(ctx, rec)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "imagefleet-attestor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	subject := exp.repository + "@" + exp.digest.String()
	provFile := filepath.Join(dir, "provenance.json")
	if err := os.WriteFile(provFile, pred, 0o600); err != nil {
		return err
	}
	sbomFile := filepath.Join(dir, "sbom.spdx.json")
	if out, err := a.tool(ctx, a.opt.syft, "scan", "registry:"+subject, "-q", "-o", "spdx-json="+sbomFile); err != nil {
		return fmt.Errorf("syft scan %s: %v: %s", subject, err, out)
	}
	// The provenance goes in by its type URI, not cosign's "slsaprovenance1":
	// that one is parsed into the SLSA schema, which drops BuildKit's
	// runDetails.metadata (the Dockerfile's text, the layers, completeness).
	for _, at := range []struct{ typ, file string }{{slsaV1, provFile}, {"spdxjson", sbomFile}} {
		if out, err := a.tool(ctx, a.opt.cosign, "attest", "--yes", "--tlog-upload=false", "--use-signing-config=false",
			"--key", a.opt.signKey, "--type", at.typ, "--predicate", at.file, subject); err != nil {
			return fmt.Errorf("cosign attest --type %s %s: %v: %s", at.typ, subject, err, out)
		}
	}
	return nil
}

func (a *attestor) tool(ctx context.Context, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD="+a.password, "SYFT_CHECK_FOR_APP_UPDATE=false")
	out, err := cmd.CombinedOutput()
	s := strings.TrimSpace(string(out))
	if lines := strings.Split(s, "\n"); len(lines) > 8 {
		s = strings.Join(lines[len(lines)-8:], "\n")
	}
	return s, err
}
