//go:build !wasip1

package embly

import (
	"errors"
	"testing"
)

func TestNotInAnInstance(t *testing.T) {
	_, err := Spawn("x")
	if !errors.Is(err, ENOSYS) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Spawn outside wasm: %v; want ENOSYS", err)
	}
	if _, err := Parent().Read(make([]byte, 1)); !errors.Is(err, ENOSYS) {
		t.Fatalf("Read outside wasm: %v; want ENOSYS", err)
	}
}
