package embly

import "testing"

func TestWarmUpServesItsOwnRequest(t *testing.T) {
	// warmUp must neither panic nor touch conn 1 (there is no host here).
	warmUp()
}
