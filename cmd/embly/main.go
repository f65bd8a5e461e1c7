// Command embly builds and runs Embly projects: WebAssembly functions
// declared in embly.hcl behind HTTP gateways.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/embly/embly/internal/config"
	"github.com/embly/embly/internal/dev"
	"github.com/embly/embly/internal/scaffold"
	"github.com/embly/embly/internal/service/vinyl"
)

// version is set at link time (-ldflags "-X main.version=...").
var version = ""

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "embly",
		Short: "Embly runs WebAssembly functions behind HTTP gateways",
		Long: `Embly builds the functions declared in embly.hcl (Go, Rust, C, or prebuilt wasm) to
WebAssembly, runs every request in a fresh sandboxed instance, and serves
them through the gateways the file declares.

  embly new hello --lang go   # scaffold a project
  cd hello && embly run       # build, then serve on the gateway's port
  curl localhost:8080/        # Hello World`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(runCmd(), buildCmd(), newCmd(), dbCmd(), versionCmd())
	return root
}

func runCmd() *cobra.Command {
	opts := dev.Options{Out: os.Stdout}
	var cpuProfile, memProfile string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Build every function and serve every gateway, logging each request",
		Long: `Run builds every function of the project in the current directory (or
--dir), then starts every gateway and logs each request. Ctrl-C or SIGTERM
stops accepting requests and lets the ones in flight finish.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cpuProfile != "" {
				stopProfile, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stopProfile()
			}
			if memProfile != "" {
				defer writeAllocProfile(cmd.ErrOrStderr(), memProfile, startAllocProfile())
			}
			tuneGC()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				// After the first signal, a second one kills at once.
				<-ctx.Done()
				stop()
			}()
			return dev.Run(ctx, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Dir, "dir", "d", ".", "project directory (holding embly.hcl)")
	cmd.Flags().StringVar(&opts.Host, "host", "127.0.0.1", "address gateways listen on (0.0.0.0 for every interface)")
	cmd.Flags().StringVar(&opts.Store, "store", "", "where the databases live: postgres://USER:PASSWORD@HOST:PORT/DB, or sqlite[:PATH] (default: embly.hcl's store, else .embly/store.db)")
	cmd.Flags().IntVar(&opts.MaxInstances, "max-instances", 0, "cap on the function instances alive at once across all requests; past it requests get 503 with Retry-After and _spawn EAGAIN (0: no cap)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (for performance work)")
	cmd.Flags().MarkHidden("cpuprofile")
	cmd.Flags().StringVar(&memProfile, "memprofile", "", "write a profile of the run's allocations to this file when it stops (for performance work)")
	cmd.Flags().MarkHidden("memprofile")
	return cmd
}

// serverGCPercent is the GOGC of `embly run`. A server's live heap is small
// (megabytes) and every request allocates a few KiB, so the default of 100
// collects thousands of times a second under load; 400 cut the CPU time of a
// request through BenchmarkHelloThroughGateway by a quarter. The memory it
// costs is a few times a small live heap.
const serverGCPercent = 400

// tuneGC applies serverGCPercent unless the user set GOGC themselves.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
}

// startCPUProfile profiles the whole process into path until the returned
// func is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// allocProfileRate samples one allocation per this many bytes: finer than
// the runtime's default, so the few small allocations of a request show.
const allocProfileRate = 4096

// startAllocProfile samples allocations from now on and returns the rate it
// replaced. Set before the server starts, it samples every allocation site.
func startAllocProfile() int {
	old := runtime.MemProfileRate
	runtime.MemProfileRate = allocProfileRate
	return old
}

// writeAllocProfile writes the allocations sampled since startAllocProfile
// to path (read it with go tool pprof -sample_index=alloc_space or
// alloc_objects) and restores the sampling rate. A failure is reported, not
// returned: the run itself went well.
func writeAllocProfile(stderr io.Writer, path string, oldRate int) {
	defer func() { runtime.MemProfileRate = oldRate }()
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "embly: writing the allocation profile: %v\n", err)
	}
}

func buildCmd() *cobra.Command {
	opts := dev.Options{Out: os.Stdout}
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build every function to wasm and compile it into the local cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, rt, err := dev.Build(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return rt.Close(context.Background())
		},
	}
	cmd.Flags().StringVarP(&opts.Dir, "dir", "d", ".", "project directory (holding embly.hcl)")
	return cmd
}

func newCmd() *cobra.Command {
	var lang string
	cmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Create a new project in directory NAME",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := scaffold.New(args[0], lang); err != nil {
				return err
			}
			fmt.Printf("Created %s. Run it with:\n\n  cd %s && embly run\n", args[0], args[0])
			return nil
		},
	}
	cmd.Flags().StringVarP(&lang, "lang", "l", "go", "language of the first function ("+fmt.Sprint(scaffold.Languages())+")")
	return cmd
}

func dbCmd() *cobra.Command {
	var dir, storeURL string
	db := &cobra.Command{
		Use:   "db",
		Short: "Inspect and migrate the project's vinyl (record) databases",
	}
	db.PersistentFlags().StringVarP(&dir, "dir", "d", ".", "project directory (holding embly.hcl)")
	db.PersistentFlags().StringVar(&storeURL, "store", "", "the store, as for embly run (default: embly.hcl's store, else .embly/store.db)")
	// withStore loads the project, compiles its .proto files, opens the
	// store and runs f.
	withStore := func(cmd *cobra.Command, f func(*dev.Store) error) error {
		proj, err := config.Load(dir)
		if err != nil {
			return err
		}
		backend, dbs, err := dev.OpenBackend(cmd.Context(), proj, storeURL, os.Stdout)
		if err != nil {
			return err
		}
		if backend == nil || len(dbs) == 0 {
			return fmt.Errorf("%s declares no vinyl database; add one like database \"vinyl\" \"main\" { definition = \"data.proto\" record \"User\" { primary_key = \"id\" } }", proj.File)
		}
		defer backend.Close()
		return f(&dev.Store{Backend: backend, Databases: dbs})
	}
	var dryRun bool
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Show the schema changes the .proto and embly.hcl make, and apply them",
		Long: `Migrate compares each vinyl database's record types (embly.hcl's record
blocks and the .proto) with the schema applied to the store, prints the
plan, and applies it. New record types, new fields and new indexes are
applied (on PostgreSQL, indexes are built CONCURRENTLY: reads and writes go
on). A changed field type, a changed primary key, or a field number reused
with another meaning is refused with an explanation, and nothing is applied
to that database.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(st *dev.Store) error {
				return vinyl.Migrate(cmd.Context(), st.Backend, st.Databases, !dryRun, os.Stdout)
			})
		},
	}
	migrate.Flags().BoolVar(&dryRun, "dry-run", false, "show the plan only")
	var sample int
	inspect := &cobra.Command{
		Use:   "inspect",
		Short: "List record types, their counts and a few records",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(st *dev.Store) error {
				return vinyl.Inspect(cmd.Context(), st.Backend, st.Databases, sample, os.Stdout)
			})
		},
	}
	inspect.Flags().IntVarP(&sample, "records", "n", 5, "records to show per type")
	db.AddCommand(migrate, inspect)
	return db
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of embly",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Println("embly", versionString())
		},
	}
}

func versionString() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}
