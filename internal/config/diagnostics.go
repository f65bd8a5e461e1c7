package config

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// DiagnosticsError is the error Load and Parse return. It keeps every
// diagnostic together with the sources they point into, so that Error can
// print each problem the way compilers do: position, message, the offending
// line and carets under the range.
type DiagnosticsError struct {
	// Diagnostics holds at least one diagnostic, ordered by position.
	Diagnostics hcl.Diagnostics
	// Sources maps a file name, as it appears in the diagnostics' ranges, to
	// its contents. A file missing here is printed without a source line.
	Sources map[string][]byte
	// Err is the underlying error when the file could not be read at all (for
	// example fs.ErrNotExist), so callers can test it with errors.Is.
	Err error
}

// Error prints every diagnostic as
//
//	embly.hcl:7:3: error: function "hello" has no attribute "pth"; did you mean "path"?
//	  7 |   pth = "./hello"
//	    |   ^^^
func (e *DiagnosticsError) Error() string {
	var b strings.Builder
	for i, d := range e.Diagnostics {
		if i > 0 {
			b.WriteByte('\n')
		}
		writeDiagnostic(&b, d, e.Sources)
	}
	return b.String()
}

// Unwrap returns the I/O error behind a failed Load, if any.
func (e *DiagnosticsError) Unwrap() error { return e.Err }

func newDiagnosticsError(diags hcl.Diagnostics, filename string, src []byte) *DiagnosticsError {
	sortDiagnostics(diags)
	return &DiagnosticsError{Diagnostics: diags, Sources: map[string][]byte{filename: src}}
}

// sortDiagnostics orders diagnostics by file and position so output reads top
// to bottom; HCL reports some problems in map order, which would otherwise
// make the output differ from run to run.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}

func writeDiagnostic(b *strings.Builder, d *hcl.Diagnostic, sources map[string][]byte) {
	severity := "error"
	if d.Severity == hcl.DiagWarning {
		severity = "warning"
	}
	msg := d.Summary
	if d.Detail != "" {
		msg += ": " + d.Detail
	}
	if d.Subject == nil {
		fmt.Fprintf(b, "%s: %s", severity, msg)
		return
	}
	s := d.Subject
	fmt.Fprintf(b, "%s:%d:%d: %s: %s", s.Filename, s.Start.Line, s.Start.Column, severity, msg)
	if src, ok := sources[s.Filename]; ok {
		writeSnippet(b, *s, src)
	}
}

// writeSnippet prints the first source line of rng with carets under the part
// of the range that falls on that line. It works from byte offsets, so it
// never trusts the range beyond the bounds of src.
func writeSnippet(b *strings.Builder, rng hcl.Range, src []byte) {
	start, end := rng.Start.Byte, rng.End.Byte
	if start < 0 || start > len(src) {
		return
	}
	if end < start || end > len(src) {
		end = start
	}
	lineStart := start
	for lineStart > 0 && src[lineStart-1] != '\n' {
		lineStart--
	}
	lineEnd := start
	for lineEnd < len(src) && src[lineEnd] != '\n' {
		lineEnd++
	}
	if end > lineEnd {
		end = lineEnd
	}
	line := strings.TrimRight(string(src[lineStart:lineEnd]), "\r")
	if !utf8.ValidString(line) {
		line = strings.ToValidUTF8(line, "\uFFFD")
	}

	// Keep tabs in the padding so carets line up however the terminal
	// expands them; everything else counts as one column per rune.
	var pad strings.Builder
	for _, r := range string(src[lineStart:start]) {
		if r == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	carets := max(utf8.RuneCount(src[start:end]), 1)

	num := fmt.Sprint(rng.Start.Line)
	gutter := strings.Repeat(" ", len(num))
	fmt.Fprintf(b, "\n  %s | %s", num, line)
	fmt.Fprintf(b, "\n  %s | %s%s", gutter, pad.String(), strings.Repeat("^", carets))
}

// suggest returns the candidate closest to given by edit distance, or "" when
// none is close enough to be a likely typo. Ties go to the earlier candidate.
func suggest(given string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(given), strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	// Two edits catch transpositions and most slips; beyond that, or when
	// the edit would rewrite most of a short word, a suggestion is noise.
	if bestDist < 0 || bestDist > 2 || bestDist >= utf8.RuneCountInString(given) {
		return ""
	}
	return best
}

// didYouMean formats suggest's answer as a message tail.
func didYouMean(given string, candidates []string) string {
	if s := suggest(given, candidates); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// quoteList renders names as `"a", "b" and "c"` for messages.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) <= 1 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
