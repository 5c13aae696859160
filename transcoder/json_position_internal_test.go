package transcoder

import (
	"strings"
	"testing"
)

// FuzzJSONPathAt reads arbitrary bodies at arbitrary offsets: it never fails to return, and a path it
// finds names a place that exists (its keys are in the body).
func FuzzJSONPathAt(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":"x"}]}`, `{"a":{"b":{"c":5}}}`, "{\n \"k\": \"\\\"}\" , \"j\": [[],[3]]}", `[[[`, `}}]]`, `"x"`} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, body string, off int) {
		if off < 0 || off > len(body) {
			return
		}
		path, ok := jsonPathAt([]byte(body), off)
		if !ok {
			return
		}
		for part := range strings.SplitSeq(path, ".") {
			key, _, _ := strings.Cut(part, "[") // what follows is indexes
			if !strings.Contains(body, key) {
				t.Fatalf("path %q at %d: key %q is not in the body %q", path, off, key, body)
			}
		}
		line, col := 1, 1
		for _, r := range body[:off] {
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		if back, ok := byteOffset([]byte(body), line, col); ok && back != off {
			t.Fatalf("offset %d is line %d column %d, which byteOffset reads as %d", off, line, col, back)
		}
	})
}
