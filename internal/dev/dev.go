// Package dev runs a project the way `embly run` does: load embly.hcl, build
// every function, compile it (through the on-disk cache), then serve every
// gateway until the context ends. The CLI only wires flags to it, so tests
// can drive the whole path in-process.
package dev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/embly/embly/internal/build"
	"github.com/embly/embly/internal/config"
	"github.com/embly/embly/internal/gateway"
	"github.com/embly/embly/internal/runtime"
	"github.com/embly/embly/internal/service/builtin"
	"github.com/embly/embly/internal/service/kv"
	"github.com/embly/embly/internal/service/vinyl"
	"github.com/embly/embly/internal/store"
	storebuiltin "github.com/embly/embly/internal/store/builtin"
)

// Options configure a run.
type Options struct {
	// Dir is the project directory (the one holding embly.hcl).
	Dir string
	// Host is the address gateways bind to; "127.0.0.1" when empty.
	Host string
	// Out receives progress, toolchain output, function output and the
	// request log.
	Out io.Writer
	// Ready, if set, is called with each gateway's address once it listens.
	Ready func(gw *config.Gateway, addr net.Addr)
	// Store, if set, overrides embly.hcl's store URL (`embly run --store`).
	Store string
	// MaxInstances caps the instances alive at once in the whole project
	// (`embly run --max-instances`); 0: no cap. See runtime.Options.
	MaxInstances int
}

// StateDir is where Embly keeps builds and caches inside a project.
const StateDir = ".embly"

// Build loads the project and builds and compiles every function, leaving
// the compiled code in the project's cache. The caller closes the runtime.
func Build(ctx context.Context, opts Options) (*config.Project, *runtime.Runtime, error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	proj, err := config.Load(opts.Dir)
	if err != nil {
		return nil, nil, err
	}
	rt, err := buildProject(ctx, proj, runtime.Options{}, builtin.Options{}, out)
	if err != nil {
		return nil, nil, err
	}
	return proj, rt, nil
}

// buildProject builds and compiles every function of proj into a runtime
// whose host services are services.
func buildProject(ctx context.Context, proj *config.Project, ro runtime.Options, services builtin.Options, out io.Writer) (*runtime.Runtime, error) {
	ro.CacheDir = filepath.Join(proj.Dir, StateDir, "cache")
	ro.Log = out
	ro.Services = builtin.New(services)
	rt, err := runtime.New(ctx, ro)
	if err != nil {
		return nil, err
	}
	builder := &build.Builder{Dir: proj.Dir, Out: out}
	for _, fn := range proj.Functions {
		if err := buildFunction(ctx, builder, rt, fn, out); err != nil {
			rt.Close(ctx)
			return nil, err
		}
	}
	return rt, nil
}

func buildFunction(ctx context.Context, b *build.Builder, rt *runtime.Runtime, fn *config.Function, out io.Writer) error {
	res, err := b.Build(ctx, fn)
	if err != nil {
		return err
	}
	wasm, err := os.ReadFile(res.WasmPath)
	if err != nil {
		return fmt.Errorf("reading the module of function %q: %w", fn.Name, err)
	}
	fmt.Fprintf(out, "Compiling %s to a local object file\n", filepath.Base(res.WasmPath))
	took, err := rt.CompileWith(ctx, fn.Name, wasm, runtime.FunctionOptions{
		Reuse:          fn.Reuse,
		MaxChildren:    fn.MaxChildren,
		AllowedHosts:   fn.AllowedHosts,
		MaxMemory:      uint64(fn.MaxMemory),
		CPUBudget:      fn.CPUBudget,
		MaxConcurrency: fn.MaxConcurrency,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Compilation of function '%s' complete (%s)\n", fn.Name, took)
	return nil
}

// Run builds the project and serves its gateways until ctx ends, then shuts
// them down gracefully: requests in flight finish.
func Run(ctx context.Context, opts Options) error {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	proj, err := config.Load(opts.Dir)
	if err != nil {
		return err
	}
	st, err := OpenStore(ctx, proj, opts.Store, out)
	if err != nil {
		return err
	}
	defer st.Close()
	rt, err := buildProject(ctx, proj, runtime.Options{MaxInstances: opts.MaxInstances}, builtin.Options{KV: st.KV, Vinyl: st.Vinyl}, out)
	if err != nil {
		return err
	}
	defer rt.Close(context.Background())
	fmt.Fprintln(out, "Starting dev server")

	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	log := gateway.NewAsyncLogger(out)
	defer log.Close()
	sp := spawner{rt}
	errc := make(chan error, len(proj.Gateways))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, gw := range proj.Gateways {
		g, err := gateway.NewHTTP(gw, proj, sp, log)
		if err != nil {
			return err
		}
		addr := net.JoinHostPort(host, strconv.Itoa(gw.Port))
		go func() {
			errc <- g.ListenAndServe(ctx, addr, func(a net.Addr) {
				fmt.Fprintf(out, "HTTP gateway listening on port %d\n", a.(*net.TCPAddr).Port)
				if opts.Ready != nil {
					opts.Ready(gw, a)
				}
			})
		}()
	}
	// The first gateway to fail (a port in use) ends the run; the others
	// then shut down through the cancelled context.
	var first error
	for range proj.Gateways {
		if err := <-errc; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	if first == nil && ctx.Err() != nil {
		return nil
	}
	return first
}

// Store is a project's opened store and the services over it.
type Store struct {
	Backend store.Backend // nil when the project declares no databases
	KV      *kv.Service
	Vinyl   *vinyl.Service
	// Databases are the project's vinyl databases, compiled.
	Databases []*vinyl.Database
}

// Close closes the backend.
func (s *Store) Close() error {
	if s == nil || s.Backend == nil {
		return nil
	}
	return s.Backend.Close()
}

// OpenStore opens the project's store when it declares databases: the
// backend that flag (else embly.hcl's store) names, and the embly/kv and
// embly/vinyl services over it. A project without databases opens nothing
// (and creates no file). The vinyl databases' .proto files are compiled
// first, so a mistake in them is reported before anything is opened.
func OpenStore(ctx context.Context, proj *config.Project, flag string, out io.Writer) (*Store, error) {
	backend, dbs, err := OpenBackend(ctx, proj, flag, out)
	if err != nil || backend == nil {
		return &Store{}, err
	}
	st := &Store{Backend: backend, Databases: dbs}
	var kvDBs []kv.Database
	var kvNames []string
	for _, db := range proj.Databases {
		kvDBs = append(kvDBs, kv.Database{Type: db.Type, Name: db.Name})
		if db.Type == "kv" {
			kvNames = append(kvNames, db.Name)
		}
	}
	if st.KV, err = kv.New(ctx, backend, kvDBs); err == nil {
		st.Vinyl, err = vinyl.New(ctx, backend, dbs, kvNames)
	}
	if err != nil {
		backend.Close()
		return nil, err
	}
	return st, nil
}

// OpenBackend compiles the project's vinyl databases and opens its store,
// without the services: what `embly db` needs. It returns a nil backend
// when the project declares no databases.
func OpenBackend(ctx context.Context, proj *config.Project, flag string, out io.Writer) (store.Backend, []*vinyl.Database, error) {
	if _, err := store.ParseURL(flag); err != nil {
		return nil, nil, fmt.Errorf("--store %s", err)
	}
	if len(proj.Databases) == 0 {
		return nil, nil, nil
	}
	dbs, err := vinyl.Load(ctx, proj)
	if err != nil {
		return nil, nil, err
	}
	url := proj.Store
	if flag != "" {
		url = flag
	}
	loc, _ := store.ParseURL(url) // both were checked
	if loc.Kind == store.KindSQLite && loc.Path != "" && !filepath.IsAbs(loc.Path) {
		loc.Path = filepath.Join(proj.Dir, loc.Path)
	}
	backend, err := storebuiltin.Open(ctx, loc, store.Options{
		Dir:     filepath.Join(proj.Dir, StateDir),
		Project: filepath.Base(proj.Dir),
	})
	if err != nil {
		if flag == "" && proj.Store != "" {
			return nil, nil, proj.Errorf(proj.StoreRange, "%v", err)
		}
		return nil, nil, err
	}
	fmt.Fprintf(out, "Using store %s\n", loc.Redacted())
	return backend, dbs, nil
}

// spawner lets the gateway start instances of the runtime's functions.
type spawner struct{ rt *runtime.Runtime }

func (s spawner) Spawn(ctx context.Context, fn string) (gateway.Invocation, error) {
	inv, err := s.rt.Spawn(ctx, fn)
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// Prepare implements gateway.InlineSpawner.
func (s spawner) Prepare(ctx context.Context, fn string) (gateway.InlineInvocation, error) {
	inv, err := s.rt.Prepare(ctx, fn)
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// ShutdownGrace bounds how long in-flight requests get to finish.
const ShutdownGrace = 30 * time.Second

var _ = errors.New
