package jsonenc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/protogate/gateway/transcoder/jsonenc"
)

// stringCases cover every class of byte the two policies treat differently or escape. proto is
// AppendProtoString's output, "" when it refuses the string.
var stringCases = []struct {
	name, in, want, proto string
}{
	{"empty", "", `""`, `""`},
	{"plain", "Ada Lovelace", `"Ada Lovelace"`, `"Ada Lovelace"`},
	{"quote and backslash", `a"b\c`, `"a\"b\\c"`, `"a\"b\\c"`},
	{"short escapes", "\b\f\n\r\t", `"\b\f\n\r\t"`, `"\b\f\n\r\t"`},
	{"other controls", "\x00\x01\x0b\x1b\x1f", `"\u0000\u0001\u000b\u001b\u001f"`, `"\u0000\u0001\u000b\u001b\u001f"`},
	{"space and DEL stay", " \x7f~", "\" \x7f~\"", "\" \x7f~\""},
	{"HTML stays", "</script>&amp;", `"</script>&amp;"`, `"</script>&amp;"`},
	{"line and paragraph separators", "a\u2028b\u2029c", `"a\u2028b\u2029c"`, "\"a\u2028b\u2029c\""},
	{"neighbours of the separators stay", "\u2027\u202a\u2128", "\"\u2027\u202a\u2128\"", "\"\u2027\u202a\u2128\""},
	{"multi-byte", "é€😀\ufffd", "\"é€😀\ufffd\"", "\"é€😀\ufffd\""},
	{"range ends", rangeEnds, `"` + rangeEnds + `"`, `"` + rangeEnds + `"`},
	{"stray continuation", "a\x80b", `"a\ufffdb"`, ""},
	{"cut short", "\xe2\x82", `"\ufffd\ufffd"`, ""},
	{"cut short at the end of a run", "abcdefghij\xf0\x9f\x98", `"abcdefghij\ufffd\ufffd\ufffd"`, ""},
	{"overlong", "\xc0\xaf\xc1\xbf\xe0\x80\xaf\xf0\x80\x80\xaf", `"` + strings.Repeat(`\ufffd`, 11) + `"`, ""},
	{"surrogate", "\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`, ""},
	{"beyond U+10FFFF", "\xf4\x90\x80\x80\xf5\x80", `"` + strings.Repeat(`\ufffd`, 6) + `"`, ""},
	{"never in UTF-8", "\xfe\xff", `"\ufffd\ufffd"`, ""},
}

// rangeEnds are the first and last runes of each UTF-8 length, and around the surrogates.
const rangeEnds = "\u0080\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff"

func TestAppendString(t *testing.T) {
	for _, tc := range stringCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(jsonenc.AppendString([]byte("x"), tc.in)); got != "x"+tc.want {
				t.Errorf("AppendString(%q) = %s, want %s", tc.in, got[1:], tc.want)
			}
			if got := string(jsonenc.AppendString(nil, []byte(tc.in))); got != tc.want {
				t.Errorf("AppendString([]byte(%q)) = %s, want %s", tc.in, got, tc.want)
			}
			if want := encodingJSON(t, tc.in); tc.want != want {
				t.Errorf("the case disagrees with encoding/json: want %s, encoding/json writes %s", tc.want, want)
			}
		})
	}
}

func TestAppendProtoString(t *testing.T) {
	for _, tc := range stringCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, got := range [][]byte{
				must(jsonenc.AppendProtoString([]byte("x"), tc.in)),
				must(jsonenc.AppendProtoString([]byte("x"), []byte(tc.in))),
			} {
				switch {
				case tc.proto == "" && got != nil:
					t.Errorf("AppendProtoString(%q) = %s, want ErrInvalidUTF8", tc.in, got)
				case tc.proto != "" && string(got) != "x"+tc.proto:
					t.Errorf("AppendProtoString(%q) = %s, want %s", tc.in, got, tc.proto)
				}
			}
			want, err := protoJSONString(tc.in)
			if tc.proto == "" && err == nil || tc.proto != "" && want != tc.proto {
				t.Errorf("the case disagrees with protojson: want %s, protojson writes %s (%v)", tc.proto, want, err)
			}
		})
	}
}

// must returns AppendProtoString's output, or nil after checking that the error is ErrInvalidUTF8
// and dst came back as it was.
func must(b []byte, err error) []byte {
	if err != nil {
		if !errors.Is(err, jsonenc.ErrInvalidUTF8) || string(b) != "x" {
			return []byte("unexpected: " + err.Error() + " after " + string(b))
		}
		return nil
	}
	return b
}

// TestEscapeAtEveryOffset puts each kind of byte that ends a plain run at every offset of a long
// string, so that it falls on every lane of the eight-byte scan and in the tail after it.
func TestEscapeAtEveryOffset(t *testing.T) {
	for _, special := range []string{`"`, `\`, "\x00", "\x1f", "\n", "é", "\u2028", "\xff", " ", "~", "\x7f"} {
		for n := range 40 {
			for at := 0; at <= n; at++ {
				s := strings.Repeat("a", at) + special + strings.Repeat("b", n-at)
				if got, want := string(jsonenc.AppendString(nil, s)), encodingJSON(t, s); got != want {
					t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
				}
			}
		}
	}
}

func TestAppendStringAllocations(t *testing.T) {
	s := strings.Repeat("Grüße \"quoted\"\n\u2028\xff ", 4)
	b := []byte(s)
	dst := make([]byte, 0, 8*len(s))
	if n := testing.AllocsPerRun(100, func() {
		dst = jsonenc.AppendString(dst[:0], s)
		dst = jsonenc.AppendString(dst[:0], b)
		dst, _ = jsonenc.AppendProtoString(dst[:0], s[:20])
		dst, _ = jsonenc.AppendProtoString(dst[:0], b[:20])
	}); n != 0 {
		t.Errorf("%v allocations with room in dst, want 0", n)
	}
}

// encodingJSON is s as encoding/json writes it with HTML escaping off.
func encodingJSON(t testing.TB, s string) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
