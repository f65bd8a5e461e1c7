// Package embly carries the guest SDKs that are not Go modules of their own:
// the Rust crate (sdk/rust) and the C header and reuse entry (sdk/c). The embly binary
// embeds them so that building a Rust or C function needs no network:
// internal/build writes them out and hands them to cargo and clang.
//
// (The Go SDK is its own module, github.com/embly/embly/sdk/go, and embeds
// its own source.)
package embly

import "embed"

// SDKs holds sdk/rust (its Cargo.toml and src/, without target/ or
// Cargo.lock, which are build products), sdk/c/embly.h and
// sdk/c/embly_reuse.c, at those paths.
//
//go:embed sdk/rust/Cargo.toml sdk/rust/src sdk/c/embly.h sdk/c/embly_reuse.c
var SDKs embed.FS
