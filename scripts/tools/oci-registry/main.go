// Command oci-registry serves go-containerregistry's registry (pkg/registry)
// with the OCI 1.1 referrers API switched on (GET /v2/<name>/referrers/<digest>),
// over TLS. The e2e tier runs it beside distribution's registry, which has no
// referrers API: there cosign keeps the referrers list under the
// `sha256-<hex>` fallback tag, here the registry answers from each
// manifest's `subject`, as ECR does. Only this main is ours; the registry is
// upstream's, built from its Go module (scripts/build-tools.sh).
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Set by scripts/build-tools.sh: the go-containerregistry version it was built from.
var version = "(devel)"

func main() {
	showVersion := flag.Bool("version", false, "print the go-containerregistry version and exit")
	addr := flag.String("addr", "127.0.0.1:5001", "address to listen on")
	cert := flag.String("tls-cert", "", "server certificate (PEM); empty: plain HTTP")
	key := flag.String("tls-key", "", "server private key (PEM)")
	blobs := flag.String("blobs", "", "directory that keeps blobs; empty: memory (manifests always live in memory)")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}

	opts := []registry.Option{registry.WithReferrersSupport(true)}
	if *blobs != "" {
		if err := os.MkdirAll(*blobs, 0o700); err != nil {
			log.Fatal(err)
		}
		// Layers of a whole image family would not fit in memory on a small machine.
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(*blobs)))
	}
	spool := os.TempDir()
	if *blobs != "" {
		spool = filepath.Join(*blobs, "uploads")
		if err := os.MkdirAll(spool, 0o700); err != nil {
			log.Fatal(err)
		}
	}
	srv := &http.Server{Addr: *addr, Handler: spoolUploads(registry.New(opts...), spool)}
	log.Printf("oci-registry (go-containerregistry %s, referrers API on) listening on %s, TLS %t, blobs %q", version, *addr, *cert != "", *blobs)
	var err error
	if *cert != "" {
		err = srv.ListenAndServeTLS(*cert, *key)
	} else {
		err = srv.ListenAndServe()
	}
	log.Fatal(err)
}

// spoolUploads reads the body of a blob upload (PUT or PATCH) into a file
// before pkg/registry sees the request. pkg/registry holds one lock over all
// uploads while it reads a body, and containerd-based clients (BuildKit,
// buildx imagetools) open several uploads at once and feed them one after
// another: the registry would wait for one body under the lock while the
// client writes another, and both stall (seen with `buildx imagetools
// create`). Spooled first, every body is complete before the lock is taken.
func spoolUploads(next http.Handler, dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method != http.MethodPut && r.Method != http.MethodPatch) || !strings.Contains(r.URL.Path, "/blobs/uploads/") {
			next.ServeHTTP(w, r)
			return
		}
		f, err := os.CreateTemp(dir, "upload-")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer os.Remove(f.Name())
		defer f.Close()
		n, err := io.Copy(f, r.Body)
		if err == nil {
			_, err = f.Seek(0, io.SeekStart)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = f
		r.ContentLength = n
		next.ServeHTTP(w, r)
	})
}
