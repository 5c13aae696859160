package resolvers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"google.golang.org/grpc/codes"
)

// limits is the extension that refuses documents too large, with too many fields, pairs of fields
// or fragments before they are validated, and operations too deep, with too many aliases or too
// many root fields before anything runs. Complexity is complexityLimit's.
type limits struct {
	depth, aliases, rootFields, fields, fragments, docBytes int
	// validated are the documents gqlgen has parsed and validated (its query cache): each has had
	// its fields and fragments counted, so none is parsed again to count them.
	validated graphql.Cache[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = limits{}

func (limits) ExtensionName() string                   { return "Limits" }
func (limits) Validate(graphql.ExecutableSchema) error { return nil }

// The fewest bytes a field takes (its name and the character that ends it: "a "), fewer than a
// fragment spread ("...a"), and the fewest a fragment definition takes ("fragment a on B{c}").
const minFieldBytes, minFragmentBytes = 2, 18

// MutateOperationParameters refuses a document over the size limit before it is parsed, and one
// with too many fields, pairs of fields or fragments before gqlgen validates it: validation
// compares the fields of a selection set that share a response name pairwise ({ id id id ... }),
// and every two fragments spread in one selection set ({ ...a ...b ...c ... }), so its time grows
// with the square of their number; the other limits measure only what it has validated. A
// document it has validated already, or too short to exceed these limits, is not parsed to count
// them: without a fragment spread or an inline fragment ("..."), validation checks each field
// once, and compares each pair of fields once at most. Others are parsed here, and again by
// gqlgen, which parses and validates in one step, with no hook between.
func (l limits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if l.docBytes > 0 && len(p.Query) > l.docBytes {
		return limitError(CodeDocumentTooLarge, "documentBytes", "document size in bytes", len(p.Query), l.docBytes)
	}
	fields := len(p.Query) / minFieldBytes // at most; without "...", at most fields*(fields-1)/2 pairs
	fewFields := l.fields == 0 || fields <= l.fields && fields*(fields-1)/2 <= l.fieldPairs() && !strings.Contains(p.Query, "...")
	if fewFields && (l.fragments == 0 || len(p.Query)/minFragmentBytes <= l.fragments) {
		return nil
	}
	if _, ok := l.validated.Get(ctx, p.Query); ok {
		return nil
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: p.Query})
	if err != nil {
		return nil // gqlgen reports it
	}
	if n := len(doc.Fragments); l.fragments > 0 && n > l.fragments {
		return limitError(CodeFragmentLimit, "fragments", "number of fragments", n, l.fragments)
	}
	if l.fields > 0 {
		if n := countChecked(doc, l.fields); n > l.fields {
			return limitError(CodeFieldLimit, "fields", "number of fields and fragment spreads to validate", n, l.fields)
		}
		if n := countFieldPairs(doc, l.fieldPairs()); n > l.fieldPairs() {
			return limitError(CodeFieldLimit, "fieldPairs", "cost of comparing fields sharing a response name (a pair 1, a conflicting pair 50)", n, l.fieldPairs())
		}
	}
	return nil
}

// fieldPairs is what comparing fields sharing a response name may cost validation (FieldPairsPerField).
func (l limits) fieldPairs() int {
	return min(l.fields, math.MaxInt/FieldPairsPerField) * FieldPairsPerField
}

// countChecked counts the fields and fragment spreads of doc as validation will check them, and
// compare them pairwise: each once as written, every operation's and fragment's, through inline
// fragments; a fragment's once more for each further operation that reaches it, as validation
// checks each operation with the fragments it reaches; and those inside inline fragments once
// more for each inline fragment around them, in each operation and each fragment definition that
// reaches them, as validation checks a selection set with the fields of its inline fragments, then
// each inline fragment alone, and walks every fragment definition anew. A document of one
// operation and no inline fragments counts what it writes. Counting stops at the operation or
// fragment that takes the count past limit.
func countChecked(doc *ast.QueryDocument, limit int) int {
	index := fragmentIndex(doc)
	frags := make([]selections, len(doc.Fragments))
	inline := false
	for i, f := range doc.Fragments {
		frags[i] = selectionsOf(f.SelectionSet, index)
		inline = inline || frags[i].inline > 0
	}

	// reach calls add with each fragment that spreads reach, directly or through others, once.
	mark := make([]int, len(frags)) // the last walk that came to each fragment, numbered from 1
	walks := 0
	var stack []int
	reach := func(spreads []int, add func(i int)) {
		walks++
		stack = append(stack[:0], spreads...)
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if mark[i] == walks {
				continue
			}
			mark[i] = walks
			add(i)
			stack = append(stack, frags[i].spreads...)
		}
	}

	n := 0
	reached := make([]bool, len(frags)) // by an operation
	for _, op := range doc.Operations {
		s := selectionsOf(op.SelectionSet, index)
		n += s.written + s.inline
		reach(s.spreads, func(i int) {
			reached[i] = true
			n += frags[i].written + frags[i].inline
		})
		if n > limit {
			return n
		}
	}
	for i, f := range frags {
		if !reached[i] {
			n += f.written
		}
	}
	if !inline {
		return n
	}
	for i := range frags {
		if n > limit {
			return n
		}
		reach([]int{i}, func(j int) { n += frags[j].inline })
	}
	return n
}

// fragmentIndex maps each fragment name of doc to its definition's index: the first of the name,
// the one its spreads name (a second of one name is validation's to refuse).
func fragmentIndex(doc *ast.QueryDocument) map[string]int {
	index := make(map[string]int, len(doc.Fragments))
	for i, f := range doc.Fragments {
		if _, ok := index[f.Name]; !ok {
			index[f.Name] = i
		}
	}
	return index
}

// selections are what a selection set holds, as validation checks it.
type selections struct {
	// written counts its fields and fragment spreads, through inline fragments.
	written int
	// inline counts them again for each inline fragment around them, up to the set or the
	// nearest field.
	inline int
	// spreads are the fragments it spreads, by index in the document's fragments.
	spreads []int
}

func selectionsOf(set ast.SelectionSet, index map[string]int) selections {
	var s selections
	var walk func(set ast.SelectionSet, inlines int)
	walk = func(set ast.SelectionSet, inlines int) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				s.written++
				s.inline += inlines
				walk(sel.SelectionSet, 0)
			case *ast.FragmentSpread:
				s.written++
				s.inline += inlines
				if i, ok := index[sel.Name]; ok {
					s.spreads = append(s.spreads, i)
				}
			case *ast.InlineFragment:
				walk(sel.SelectionSet, inlines+1)
			}
		}
	}
	walk(set, 0)
	return s
}

// MutateOperationContext measures the validated operation against the limits.
func (l limits) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if l.depth == 0 && l.aliases == 0 && l.rootFields == 0 {
		return nil
	}
	m := measurer{doc: opCtx.Doc}
	s := m.selections(opCtx.Operation.SelectionSet)
	if l.rootFields > 0 && s.fields > l.rootFields {
		return limitError(CodeRootFieldLimit, "rootFields", "number of root fields", s.fields, l.rootFields)
	}
	if l.depth > 0 && s.depth > l.depth {
		return limitError(CodeDepthLimit, "depth", "operation depth", s.depth, l.depth)
	}
	if l.aliases > 0 && s.aliases > l.aliases {
		return limitError(CodeAliasLimit, "aliases", "number of aliases", s.aliases, l.aliases)
	}
	return nil
}

// shape is what the limits measure of a selection set: how deep it goes, how many aliases it has,
// and how many fields it selects at its own level (through fragments too; @skip and @include are
// not applied, so the count errs on the strict side).
type shape struct{ depth, aliases, fields int }

// measurer measures selection sets, each fragment once however often it is spread, so a document
// that spreads fragments exponentially is measured in linear time.
type measurer struct {
	doc       *ast.QueryDocument
	fragments map[string]shape
}

func (m *measurer) selections(set ast.SelectionSet) shape {
	var s shape
	for _, sel := range set {
		var child shape
		switch sel := sel.(type) {
		case *ast.Field:
			s.fields = saturate(s.fields, 1)
			if sel.Name == "__schema" || sel.Name == "__type" {
				continue // introspection: gqlparser's MaxIntrospectionDepth rule bounds it
			}
			child = m.selections(sel.SelectionSet)
			child.depth++
			child.fields = 0
			if sel.Alias != "" && sel.Alias != sel.Name {
				child.aliases = saturate(child.aliases, 1)
			}
		case *ast.InlineFragment:
			child = m.selections(sel.SelectionSet)
		case *ast.FragmentSpread:
			child = m.fragment(sel.Name)
		}
		s.depth = max(s.depth, child.depth)
		s.aliases = saturate(s.aliases, child.aliases)
		s.fields = saturate(s.fields, child.fields)
	}
	return s
}

func (m *measurer) fragment(name string) shape {
	if s, ok := m.fragments[name]; ok {
		return s
	}
	if m.fragments == nil {
		m.fragments = make(map[string]shape)
	}
	m.fragments[name] = shape{} // validation forbids cycles; this guards against them anyway
	var s shape
	if f := m.doc.Fragments.ForName(name); f != nil {
		s = m.selections(f.SelectionSet)
	}
	m.fragments[name] = s
	return s
}

func saturate(a, b int) int {
	if s := a + b; s >= a {
		return s
	}
	return int(^uint(0) >> 1)
}

// persistedOperations serves documents registered by their hash, and in persisted-only mode
// refuses any other. A document's trailing line breaks are not part of it: it is found by the hash
// of its text with none and with one (see checkPersisted), and a document sent in full matches it
// whatever its trailing line breaks (sameDocument).
type persistedOperations struct {
	docs map[string]string
	// faults say, by document, why those that do not validate against the schema cannot run.
	faults map[string]string
	only   bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = persistedOperations{}

func (persistedOperations) ExtensionName() string                   { return "PersistedOperations" }
func (persistedOperations) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters puts the registered document of a hash in the request, and refuses
// documents that are not registered when only registered ones may run. A persisted operation that
// does not validate against the schema is refused as the server's fault, INTERNAL, when a client
// sends its hash, or its text where only persisted operations run: the document is the operator's
// (a document a client sends in full otherwise is its own, and validation answers for it).
func (p persistedOperations) MutateOperationParameters(_ context.Context, raw *graphql.RawParams) *gqlerror.Error {
	if hash := persistedHash(raw.Extensions); hash != "" {
		doc, ok := p.docs[strings.ToLower(hash)]
		switch {
		case ok && raw.Query == "":
			raw.Query = doc
			return p.fault(doc)
		case ok && !sameDocument(raw.Query, doc):
			return requestError(CodeOperationNotAllowed, "the document does not match persisted operation %s", hash)
		case ok:
			return p.fault(doc)
		case p.only:
			return requestError("PERSISTED_QUERY_NOT_FOUND", "persisted operation %s is not registered", hash)
		}
		return nil // automatic persisted queries may know it
	}
	if p.only {
		doc, ok := p.docs[sha256Hex(trimDocument(raw.Query))]
		if !ok || !sameDocument(raw.Query, doc) {
			return requestError(CodeOperationNotAllowed, "only persisted operations run on this server; send the hash of a registered one")
		}
		return p.fault(doc)
	}
	return nil
}

// fault refuses persisted document doc when it does not validate against the schema.
func (p persistedOperations) fault(doc string) *gqlerror.Error {
	if msg, bad := p.faults[doc]; bad {
		return requestError(codeName(codes.Internal), "%s", msg)
	}
	return nil
}

// noAPQ answers a hash sent alone, which no persisted operation knows, as Apollo's persisted-query
// link expects of a server without automatic persisted queries: PersistedQueryNotSupported, upon
// which it sends its documents in full from then on.
type noAPQ struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = noAPQ{}

func (noAPQ) ExtensionName() string                   { return "NoAPQ" }
func (noAPQ) Validate(graphql.ExecutableSchema) error { return nil }

func (noAPQ) MutateOperationParameters(_ context.Context, raw *graphql.RawParams) *gqlerror.Error {
	if raw.Query == "" && persistedHash(raw.Extensions) != "" {
		return requestError("PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported")
	}
	return nil
}

// persistedHash reads extensions.persistedQuery.sha256Hash.
func persistedHash(ext map[string]any) string {
	pq, ok := ext["persistedQuery"].(map[string]any)
	if !ok {
		return ""
	}
	h, _ := pq["sha256Hash"].(string)
	return h
}

// checkPersisted checks that each persisted operation is keyed by the SHA-256 of its document, and
// returns them keyed by that hash in lower case, by the SHA-256 of the document without its
// trailing line breaks, and by that of the document without them and with one "\n", where those
// differ. A document written as a YAML block keeps a final newline (`document: |`), keeps them all
// (`|+`) or has none (`|-`, a quoted string), while a client hashing the text it sends (Apollo's and
// Relay's persisted queries) usually has none, and one hashing a .graphql file (sha256sum) has one:
// any of the three hashes finds the document. Two documents that differ only in their trailing
// line breaks are one operation, found under the hash of each as given.
func checkPersisted(ops map[string]string) (map[string]string, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(ops))
	for hash, doc := range ops {
		if want := sha256Hex(doc); !strings.EqualFold(hash, want) {
			return nil, fmt.Errorf("resolvers: persisted operation %q is keyed by the wrong hash: its SHA-256 is %s", hash, want)
		}
		out[strings.ToLower(hash)] = doc
	}
	for _, doc := range ops {
		trimmed := trimDocument(doc)
		for _, key := range [...]string{sha256Hex(trimmed), sha256Hex(trimmed + "\n")} {
			if _, ok := out[key]; !ok {
				out[key] = doc
			}
		}
	}
	return out, nil
}

// trimDocument is doc without its trailing line breaks, which do not change the operation.
func trimDocument(doc string) string { return strings.TrimRight(doc, "\r\n") }

// sameDocument reports whether a document a client sent is the persisted document doc, but for
// trailing line breaks.
func sameDocument(sent, doc string) bool { return trimDocument(sent) == trimDocument(doc) }

// sha256Hex is the SHA-256 of s in lower-case hex, as clients key persisted operations.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
