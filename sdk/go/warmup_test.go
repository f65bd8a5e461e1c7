package embly

import (
	"strings"
	"testing"
)

func TestWarmUpServesItsOwnRequests(t *testing.T) {
	// warmUp must neither panic nor touch conn 1 (there is no host here).
	warmUp()
}

func TestWarmUpRequestsTakeBothPaths(t *testing.T) {
	// The first request is parsed by parseSimpleHead, the second is not:
	// the snapshot then holds the set-up of both.
	head := warmUpRequests[0]
	if parseSimpleHead([]byte(strings.TrimSuffix(head, "\r\n"))) == nil {
		t.Errorf("parseSimpleHead refused %q", head)
	}
	head, _, _ = strings.Cut(warmUpRequests[1], "\r\n\r\n")
	if parseSimpleHead([]byte(head+"\r\n")) != nil {
		t.Errorf("parseSimpleHead took %q", head)
	}
}
