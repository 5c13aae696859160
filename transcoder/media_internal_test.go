package transcoder

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/protogate/gateway/transcoder/mediarange"
)

// FuzzAccept checks the reading of Accept: every q-value is in [0, 1], a well-formed one (RFC 9110's
// qvalue) is read as written and one that is not a decimal number as 1; how the ranges are split among header lines, and for the
// stream format their order, change nothing; and the response format is that of the first range
// of the highest q-value above 0 among those naming a format, JSON when there is none.
func FuzzAccept(f *testing.F) {
	for _, s := range []string{"", "*/*", "text/*", "text/event-stream", "text/event-stream;q=0",
		"application/x-ndjson, text/event-stream;q=0.1", "application/jsonl;q=0.8, text/event-stream;q=0.5",
		"text/event-stream;q=0.5, */*", "*/*;q=0.1, text/event-stream;q=0.5",
		"*/*, application/x-ndjson;q=0.1, text/event-stream;q=0.5", "application/*;q=0.9, */*, text/event-stream;q=0.95",
		"application/x-ndjson, text/event-stream", "application/json, text/event-stream;q=0.2",
		"application/json;q=0.5, application/x-protobuf", "application/x-protobuf;q=0.1, */*",
		"application/protobuf; Q = 0.300 ;level=1", "application/x-protobuf;q=1.5", "application/x-protobuf;q=x",
		"text/event-stream;q=NaN", "application/x-ndjson;q=nan, application/jsonl;q=0.3, text/event-stream;q=0.4",
		"application/x-protobuf;q=0x1p-1, application/json;q=0.7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		for typ, params := range mediarange.Ranges([]string{accept}) {
			if strings.ContainsAny(typ, ",;") || typ != strings.TrimSpace(typ) {
				t.Fatalf("Accept %q: a range of type %q", accept, typ)
			}
			q := mediarange.Q(params)
			if !(q >= 0 && q <= 1) {
				t.Fatalf("Accept %q: q-value %v for %q", accept, q, params)
			}
			v, given := qParam(params)
			switch {
			case !given && q != 1:
				t.Fatalf("Accept %q: q-value %v for %q, which gives none", accept, q, params)
			case qvalue.MatchString(v):
				if want, _ := strconv.ParseFloat(v, 64); q != want {
					t.Fatalf("Accept %q: q-value %v for %q, want %v", accept, q, params, want)
				}
			case strings.Trim(v, "0123456789.") != "" && q != 1:
				t.Fatalf("Accept %q: q-value %v for %q, not a decimal number, want 1", accept, q, params)
			}
		}
		whole := []string{accept}
		lines := strings.Split(accept, ",")
		reversed := slices.Clone(lines)
		slices.Reverse(reversed)
		sse := acceptsEventStream(whole)
		if acceptsEventStream(lines) != sse || acceptsEventStream(reversed) != sse {
			t.Fatalf("Accept %q: event stream %v, but %v on separate lines and %v in reverse order",
				accept, sse, acceptsEventStream(lines), acceptsEventStream(reversed))
		}
		f, ct := responseFormat(whole)
		if f2, ct2 := responseFormat(lines); f2 != f || ct2 != ct {
			t.Fatalf("Accept %q: format %d %s, but %d %s on separate lines", accept, f, ct, f2, ct2)
		}
		if wf, wct := firstPreferred(whole); f != wf || ct != wct {
			t.Fatalf("Accept %q: format %d %s, want %d %s", accept, f, ct, wf, wct)
		}
	})
}

// qvalue is RFC 9110's grammar of a q-value (12.4.2).
var qvalue = regexp.MustCompile(`^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$`)

// qParam is the value of the first q parameter of params, without spaces, and whether there is one.
func qParam(params string) (string, bool) {
	for p := range strings.SplitSeq(params, ";") {
		if k, v, _ := strings.Cut(p, "="); strings.EqualFold(strings.TrimSpace(k), "q") {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// firstPreferred is responseFormat by another way: the ranges naming a format, stably sorted by
// q-value, highest first; the first if its q-value is above 0, else JSON.
func firstPreferred(accept []string) (format, string) {
	type choice struct {
		q  float64
		f  format
		ct string
	}
	var choices []choice
	for typ, params := range mediarange.Ranges(accept) {
		c := choice{q: mediarange.Q(params)}
		switch {
		case strings.EqualFold(typ, "application/x-protobuf"), strings.EqualFold(typ, "application/protobuf"):
			c.f, c.ct = formatProto, strings.ToLower(typ)
		case strings.EqualFold(typ, contentTypeJSON), strings.EqualFold(typ, "application/*"), typ == "*/*":
			c.f, c.ct = formatJSON, contentTypeJSON
		default:
			continue
		}
		choices = append(choices, c)
	}
	slices.SortStableFunc(choices, func(a, b choice) int { return cmp.Compare(b.q, a.q) })
	if len(choices) == 0 || !(choices[0].q > 0) {
		return formatJSON, contentTypeJSON
	}
	return choices[0].f, choices[0].ct
}
