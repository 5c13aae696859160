package resolvers

import (
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// FieldPairsPerField is the cost of comparing fields sharing a response name that validation
// (gqlparser's OverlappingFieldsCanBeMerged) may spend for each field max_fields allows: 200,000 at
// its default. A pair of the same field with the same arguments costs 1, a comparison (2000 `id`s
// repeated, 2M pairs, took 0.15s); a pair that conflicts costs ConflictingPairCost, as the rule
// keeps a message for every one before the first 100 are answered (2000 fields aliased alike,
// { a: id a: name a: id ... }, a million conflicts, took 1.5s and a gigabyte). The cost is
// counted with the fields, before validation: 200,000 takes about 15ms, or 4000 conflicts a few
// megabytes. Relay-style queries, whose fragments each repeat `id` and `__typename` on the object
// they are spread on, cost a few thousand to a few tens of thousands.
const FieldPairsPerField = 100

// ConflictingPairCost is what a pair of fields sharing a response name that differ in field or
// arguments costs, against 1 for a pair of the same field: a conflict, kept by validation as a
// message of its own. The document is invalid anyway.
const ConflictingPairCost = 50

// countFieldPairs counts the pairs of fields validation compares to check that they can be
// merged, as if each selection set were merged with those it merges with in the response: at
// each level, the fields of the selection sets merged there (their own, through inline
// fragments, and those of each fragment they reach by spreads at that level, once however often
// it is spread, as validation compares a fragment once with each set of fields and never with
// itself), grouped by response name; k fields of a name make k(k-1)/2 pairs, and their selection
// sets merge into the level below. That counts every pair validation compares (it stops early
// on some), once; the pairs inside an inline fragment count again for it, as validation checks
// each inline fragment alone too. Every operation counts, with the fragments it reaches, and
// every fragment definition on its own. A document whose fragments spread themselves counts 0:
// validation refuses it. Counting stops once the count passes limit.
func countFieldPairs(doc *ast.QueryDocument, limit int) int {
	c := pairCounter{
		limit:     limit,
		fragments: make(map[string]*ast.FragmentDefinition, len(doc.Fragments)),
		single:    make(map[selectionSetKey]int),
	}
	for name, i := range fragmentIndex(doc) {
		c.fragments[name] = doc.Fragments[i]
	}
	if c.cyclic() {
		return 0
	}
	n := 0
	for _, op := range doc.Operations {
		if n += c.set(op.SelectionSet); n > limit {
			return n
		}
	}
	for _, f := range doc.Fragments {
		if n += c.set(f.SelectionSet); n > limit {
			return n
		}
	}
	return n
}

// pairCounter counts the pairs of fields of a document's selection sets, merged.
type pairCounter struct {
	limit     int
	fragments map[string]*ast.FragmentDefinition
	// single are the counts of selection sets merged with no other, which do not depend on where
	// they are: a fragment spread many times in different places is counted once.
	single map[selectionSetKey]int
}

// selectionSetKey identifies a selection set of the document, as gqlparser's rule does: a
// slice's first element and length.
type selectionSetKey struct {
	first *ast.Selection
	n     int
}

// set counts the pairs of one selection set merged with no other.
func (c *pairCounter) set(set ast.SelectionSet) int {
	if len(set) == 0 {
		return 0
	}
	key := selectionSetKey{&set[0], len(set)}
	if n, ok := c.single[key]; ok {
		return n
	}
	n := c.merged([]ast.SelectionSet{set})
	c.single[key] = n
	return n
}

// merged counts the pairs of selection sets merged at one level, and below it.
func (c *pairCounter) merged(sets []ast.SelectionSet) int {
	var names []string
	fields := make(map[string][]*ast.Field)
	spread := make(map[string]bool)
	n := 0
	var collect func(set ast.SelectionSet)
	collect = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				name := responseName(sel)
				if _, ok := fields[name]; !ok {
					names = append(names, name)
				}
				fields[name] = append(fields[name], sel)
			case *ast.InlineFragment:
				n = saturate(n, pairsWithin(sel.SelectionSet))
				collect(sel.SelectionSet)
			case *ast.FragmentSpread:
				if f := c.fragments[sel.Name]; f != nil && !spread[sel.Name] {
					spread[sel.Name] = true
					collect(f.SelectionSet)
				}
			}
		}
	}
	for _, set := range sets {
		collect(set)
	}
	for _, name := range names {
		same := fields[name]
		if n = saturate(n, pairsCost(same)); n > c.limit {
			return n
		}
		if len(same) == 1 {
			n = saturate(n, c.set(same[0].SelectionSet))
			continue
		}
		var below []ast.SelectionSet
		for _, f := range same {
			if len(f.SelectionSet) > 0 {
				below = append(below, f.SelectionSet)
			}
		}
		if len(below) == 1 {
			n = saturate(n, c.set(below[0]))
		} else if len(below) > 1 {
			n = saturate(n, c.merged(below))
		}
		if n > c.limit {
			return n
		}
	}
	return n
}

// pairsCost is the cost of comparing every two of fields, which share a response name: 1 a pair
// of the same field with the same arguments, ConflictingPairCost a pair that differs.
func pairsCost(fields []*ast.Field) int {
	k := len(fields)
	if k < 2 {
		return 0
	}
	alike := make(map[string]int, 2)
	for _, f := range fields {
		alike[fieldSignature(f)]++
	}
	same := 0
	for _, g := range alike {
		same += g * (g - 1) / 2
	}
	return saturate(same, (k*(k-1)/2-same)*ConflictingPairCost)
}

// fieldSignature is what two fields sharing a response name must have alike to merge at this
// level: the field and its arguments, in any order.
func fieldSignature(f *ast.Field) string {
	if len(f.Arguments) == 0 {
		return f.Name
	}
	args := make([]string, len(f.Arguments))
	for i, a := range f.Arguments {
		args[i] = a.Name + ":" + a.Value.String()
	}
	slices.Sort(args)
	return f.Name + "(" + strings.Join(args, ",") + ")"
}

// pairsWithin counts the pairs of fields of one selection set sharing a response name, through
// its inline fragments but not its fragment spreads: what validation compares within an inline
// fragment when it checks it alone.
func pairsWithin(set ast.SelectionSet) int {
	count := make(map[string]int)
	n := 0
	var walk func(set ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				name := responseName(sel)
				n = saturate(n, count[name]) // the new field pairs with each one before it
				count[name]++
			case *ast.InlineFragment:
				walk(sel.SelectionSet)
			}
		}
	}
	walk(set)
	return n
}

// cyclic reports whether a fragment spreads itself, directly or through others, at any depth.
func (c *pairCounter) cyclic() bool {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make(map[string]int, len(c.fragments))
	var visit func(name string) bool
	var spreads func(set ast.SelectionSet) bool
	spreads = func(set ast.SelectionSet) bool {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if spreads(sel.SelectionSet) {
					return true
				}
			case *ast.InlineFragment:
				if spreads(sel.SelectionSet) {
					return true
				}
			case *ast.FragmentSpread:
				if visit(sel.Name) {
					return true
				}
			}
		}
		return false
	}
	visit = func(name string) bool {
		f := c.fragments[name]
		if f == nil {
			return false
		}
		switch state[name] {
		case visiting:
			return true
		case done:
			return false
		}
		state[name] = visiting
		if spreads(f.SelectionSet) {
			return true
		}
		state[name] = done
		return false
	}
	for name := range c.fragments {
		if visit(name) {
			return true
		}
	}
	return false
}

// responseName is the key a field's value has in the response: its alias, or its name.
func responseName(f *ast.Field) string {
	if f.Alias != "" {
		return f.Alias
	}
	return f.Name
}
