//go:build !wasip1

package embly

import "embed"

// Source is this package's own source: go.mod and every non-test .go file.
// The embly binary carries it so that building a user's Go function works
// offline: the builder writes it out and points the Go toolchain at it with a
// workspace. It is not compiled into guests (this file is !wasip1).
//
// The list is explicit so that tests stay out (a pattern like *.go would take
// them too); TestSourceListsEveryFile keeps it complete.
//
//go:embed go.mod doc.go errno.go sys.go sys_wasip1.go sys_other.go host.go conn.go http.go source.go entry_wasip1.go warmup.go client.go client_wasip1.go kv.go request.go sniff.go vinyl.go addr.go
var Source embed.FS
