package resolvers

import (
	"context"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// fuzzPersisted are the persisted documents of FuzzPersistedHash, with their trailing line breaks
// written each way a YAML block or a file keeps them.
var fuzzPersisted = []string{`query A { a }`, "query B { b }\n", "query C { c }\n\n", "query D { d }\r\n", "query A { a }\n\n\n"}

// FuzzPersistedHash checks the lookup of persisted operations by the hash a client sends and, in
// persisted-only mode, by the document it sends: a hash finds a document exactly when it is, in
// any ASCII case, the SHA-256 in hex of one of the three texts that name it (the document, without
// its trailing line breaks, and with one "\n" instead); every such hash finds its document; and a
// document sent alone runs exactly when it is a persisted one but for trailing line breaks.
func FuzzPersistedHash(f *testing.F) {
	ops := make(map[string]string)
	for _, doc := range fuzzPersisted {
		ops[sha256Hex(doc)] = doc
	}
	docs, err := checkPersisted(ops)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", sha256Hex(fuzzPersisted[0]), strings.ToUpper(sha256Hex("query B { b }")), sha256Hex("x"),
		sha256Hex(fuzzPersisted[0])[:63], "\u212a"} {
		f.Add(s, "", uint8(0), uint64(0), false)
		f.Add(s, "query A { a }\r\n", uint8(1), uint64(1<<63|5), true)
	}
	f.Fuzz(func(t *testing.T, hash, query string, pick uint8, upper uint64, only bool) {
		p := persistedOperations{docs: docs, only: only}
		// A hash of a form of a persisted document, in the case upper's bits say, finds it.
		doc := fuzzPersisted[int(pick)%len(fuzzPersisted)]
		forms := hashForms(doc)
		want := []byte(forms[int(pick/8)%len(forms)])
		for i := range want {
			if upper>>(i%64)&1 == 1 {
				want[i] = strings.ToUpper(string(want[i]))[0]
			}
		}
		raw := &graphql.RawParams{Extensions: map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": string(want)}}}
		if err := p.MutateOperationParameters(context.Background(), raw); err != nil || trimDocument(raw.Query) != trimDocument(doc) {
			t.Fatalf("hash %s of %q: %v, document %q", want, doc, err, raw.Query)
		}
		// Any other hash finds none.
		raw = &graphql.RawParams{Extensions: map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
		err := p.MutateOperationParameters(context.Background(), raw)
		if found := raw.Query != ""; found {
			if err != nil || !hashOf(hash, raw.Query) {
				t.Fatalf("hash %q found %q (%v), which none of its forms hashes to", hash, raw.Query, err)
			}
		} else if hash != "" && err == nil && only {
			t.Fatalf("hash %q: no document, and no refusal in persisted-only mode", hash)
		}
		// In persisted-only mode a document sent alone runs when it is a persisted one.
		raw = &graphql.RawParams{Query: query}
		err = p.MutateOperationParameters(context.Background(), raw)
		persisted := false
		for _, d := range fuzzPersisted {
			persisted = persisted || trimDocument(d) == trimDocument(query)
		}
		if only && (err == nil) != persisted || !only && err != nil {
			t.Fatalf("document %q (persisted-only %v, persisted %v): %v", query, only, persisted, err)
		}
	})
}

// hashForms are the hashes that find doc: of its text, of its text without trailing line breaks,
// and of that and one "\n".
func hashForms(doc string) []string {
	trimmed := strings.TrimRight(doc, "\r\n")
	return []string{sha256Hex(doc), sha256Hex(trimmed), sha256Hex(trimmed + "\n")}
}

// hashOf reports whether hash is one of the forms of a persisted document that is doc but for
// trailing line breaks, in lower-case hex but for the case of its ASCII letters.
func hashOf(hash, doc string) bool {
	for _, d := range fuzzPersisted {
		if trimDocument(d) != trimDocument(doc) {
			continue
		}
		for _, form := range hashForms(d) {
			if len(hash) == len(form) && strings.EqualFold(hash, form) && strings.Trim(hash, "0123456789abcdefABCDEF") == "" {
				return true
			}
		}
	}
	return false
}
