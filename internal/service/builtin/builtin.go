// Package builtin registers Embly's host services, in one place: each spawn
// target under "embly/" and the package that serves it.
package builtin

import (
	"github.com/embly/embly/internal/service"
	"github.com/embly/embly/internal/service/kv"
	"github.com/embly/embly/internal/service/outbound"
	"github.com/embly/embly/internal/service/vinyl"
)

// Options configure the built-in services.
type Options struct {
	// HTTP configures embly/http.
	HTTP outbound.Options
	// KV serves embly/kv/NAME: the project's kv databases. Nil when the
	// project declares none; every embly/kv target is then ENOENT.
	KV *kv.Service
	// Vinyl serves embly/vinyl/NAME: the project's vinyl databases. Nil
	// when the project declares none.
	Vinyl *vinyl.Service
}

// New returns a registry holding every built-in service:
//
//	embly/http      outbound HTTP, limited by each function's allowed_hosts
//	embly/kv/NAME   the kv database NAME that embly.hcl declares
//	embly/vinyl/NAME the vinyl (record) database NAME that embly.hcl declares
func New(opts Options) *service.Registry {
	r := service.NewRegistry()
	r.Register(outbound.Target, outbound.New(opts.HTTP))
	if opts.KV != nil {
		r.Register(kv.Prefix, opts.KV)
	}
	if opts.Vinyl != nil {
		r.Register(vinyl.Prefix, opts.Vinyl)
	}
	return r
}
