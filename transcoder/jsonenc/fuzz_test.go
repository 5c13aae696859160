package jsonenc_test

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/protogate/gateway/transcoder/jsonenc"
)

func fuzzSeeds(f *testing.F) {
	for _, tc := range stringCases {
		f.Add(tc.in)
	}
	for _, bs := range benchStrings {
		f.Add(bs.s)
	}
}

// FuzzAppendString holds AppendString to encoding/json (HTML escaping off) on any input, valid
// UTF-8 or not, and checks that the output reads back as the string (with U+FFFD for invalid
// bytes).
func FuzzAppendString(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		got := jsonenc.AppendString(nil, s)
		if want := encodingJSON(t, s); string(got) != want {
			t.Fatalf("AppendString(%q) = %s, encoding/json writes %s", s, got, want)
		}
		if b := jsonenc.AppendString(nil, []byte(s)); string(b) != string(got) {
			t.Fatalf("AppendString([]byte(%q)) = %s, the string form %s", s, b, got)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("AppendString(%q) = %s, not JSON: %v", s, got, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("AppendString(%q) = %s, reads back as %q", s, got, back)
		}
	})
}

// FuzzAppendProtoString holds AppendProtoString to protojson on any input: the same bytes for a
// string protojson writes, ErrInvalidUTF8 for one it refuses.
func FuzzAppendProtoString(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := jsonenc.AppendProtoString(nil, s)
		want, perr := protoJSONString(s)
		switch {
		case perr != nil && !errors.Is(err, jsonenc.ErrInvalidUTF8):
			t.Fatalf("AppendProtoString(%q) = %s, %v; protojson fails: %v", s, got, err, perr)
		case perr == nil && (err != nil || string(got) != want):
			t.Fatalf("AppendProtoString(%q) = %s, %v; protojson writes %s", s, got, err, want)
		}
		b, berr := jsonenc.AppendProtoString(nil, []byte(s))
		if string(b) != string(got) || (berr == nil) != (err == nil) {
			t.Fatalf("AppendProtoString([]byte(%q)) = %s, %v; the string form %s, %v", s, b, berr, got, err)
		}
	})
}

// protoJSONString is s as protojson writes a string field: a StringValue's JSON form is its string.
func protoJSONString(s string) (string, error) {
	b, err := protojson.Marshal(wrapperspb.String(s))
	return string(b), err
}
