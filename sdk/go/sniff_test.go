package embly

import (
	"net/http"
	"testing"
)

func FuzzDetectContentType(f *testing.F) {
	for _, seed := range []string{
		"Hello World", "{\"a\":1}", "hello\x00", "BM....", "GIF89a", "%PDF-1.4", " <html>",
		"wOFF", "ttcf", "PK\x03\x04", "OggS\x00", "abcdefghijklmnopqrstuvwxyz01234567LP",
		"abcdefghijklmnopqrstuvwxyz01234567LQ", "\xef\xbb\xbfbom", "caf\xc3\xa9", "x\x1b[0m",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := detectContentType(data), http.DetectContentType(data); got != want {
			t.Errorf("detectContentType(%q) = %q, want %q", data, got, want)
		}
	})
}
