package page_test

import (
	"testing"

	"github.com/protogate/gateway/examples/shop/internal/page"
)

func TestTokenRoundTrip(t *testing.T) {
	for _, cursor := range []string{"", "1", "o84", "2024-01-03T10:00:00Z o7", "ünïcode \x00 bytes"} {
		tok := page.EncodeToken("users?role=1", cursor)
		got, err := page.DecodeToken(tok, "users?role=1")
		if err != nil || got != cursor {
			t.Errorf("DecodeToken(EncodeToken(%q)) = %q, %v", cursor, got, err)
		}
		if _, err := page.DecodeToken(tok, "users?role=2"); err == nil {
			t.Errorf("token for cursor %q accepted for another query", cursor)
		}
	}
	if got, err := page.DecodeToken("", "q"); got != "" || err != nil {
		t.Errorf(`DecodeToken("") = %q, %v; want the first page`, got, err)
	}
}

func TestSize(t *testing.T) {
	for in, want := range map[int32]int{0: page.DefaultSize, 1: 1, 100: 100, 101: page.MaxSize, 1 << 30: page.MaxSize} {
		if got, err := page.Size(in); got != want || err != nil {
			t.Errorf("Size(%d) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := page.Size(-1); err == nil {
		t.Error("Size(-1) succeeded")
	}
}

func TestCompareIDs(t *testing.T) {
	ordered := []string{"", "1", "2", "9", "10", "24", "o1", "o9", "o10", "o84", "ext-1"}
	for i := range ordered {
		for j := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := page.CompareIDs(ordered[i], ordered[j]); got != want {
				t.Errorf("CompareIDs(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
}

// FuzzDecodeToken feeds arbitrary tokens, as clients may send: decoding never panics, and what
// decodes re-encodes to the same token.
func FuzzDecodeToken(f *testing.F) {
	f.Add(page.EncodeToken("q", "o12"), "q")
	f.Add("", "q")
	f.Add("AQAAAAA", "")
	f.Fuzz(func(t *testing.T, token, query string) {
		cursor, err := page.DecodeToken(token, query)
		if err != nil || token == "" {
			return
		}
		if again := page.EncodeToken(query, cursor); again != token {
			t.Errorf("token %q decodes to %q, which encodes to %q", token, cursor, again)
		}
	})
}
