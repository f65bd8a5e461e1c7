package embly

import "net/http"

// plainText is what http.DetectContentType says of text it recognizes no
// format in.
const plainText = "text/plain; charset=utf-8"

// detectContentType is http.DetectContentType, with a shortcut for the
// commonest body of a small function, plain text: DetectContentType tries
// some forty signatures first, a few percent of a hello world's time in a
// fresh instance. The shortcut is taken only when no signature can match:
// the first byte starts none of them, bytes 34 and 35 are not the "LP" of
// an EOT font, and there is no byte that makes data binary.
// FuzzDetectContentType checks it against DetectContentType.
func detectContentType(data []byte) string {
	if len(data) > 512 {
		data = data[:512] // all that DetectContentType looks at
	}
	if len(data) == 0 || !plainStart[data[0]] || len(data) >= 36 && data[34] == 'L' && data[35] == 'P' {
		return http.DetectContentType(data)
	}
	for _, b := range data {
		if binaryByte[b] {
			return http.DetectContentType(data)
		}
	}
	return plainText
}

// plainStart marks the first bytes no signature of DetectContentType
// begins with: printable ASCII but the first letters of its signatures
// (BM, GIF, RIFF, Rar!, FORM, ID3, OggS, OTTO, MThd, PK, ttcf, wOFF, wOF2),
// '%' (%PDF, %!PS) and '<' (HTML, XML). Whitespace is not in it: HTML and
// XML signatures skip leading whitespace. An MP4 box needs its first byte
// to be 0 (its size is at most 512).
var plainStart = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = true
	}
	for _, c := range "BGRFIOMPtw%<" {
		t[c] = false
	}
	return t
}()

// binaryByte marks the bytes DetectContentType takes as binary data.
var binaryByte = func() (t [256]bool) {
	for c := 0x00; c <= 0x08; c++ {
		t[c] = true
	}
	t[0x0B] = true
	for c := 0x0E; c <= 0x1A; c++ {
		t[c] = true
	}
	for c := 0x1C; c <= 0x1F; c++ {
		t[c] = true
	}
	return t
}()
