package routing

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Route sends the calls its Match selects to one of its clusters.
//
// Routes returned by a [Table] belong to it and must not be modified.
type Route struct {
	Name     string
	Match    Match
	Clusters []WeightedCluster // at least one
	Timeout  time.Duration     // 0 means none; bounds all attempts of a call
	Retry    RetryPolicy       // for unary calls

	cumulative []uint64    // cumulative[i] = sum of Clusters[:i+1] weights; set by NewTable
	retry      RetryPolicy // Retry with defaults filled; set by NewTable
}

// retryPolicy returns the route's retry policy with defaults filled.
func (r *Route) retryPolicy() *RetryPolicy {
	if r.retry.Attempts == 0 {
		p := r.Retry.withDefaults()
		return &p
	}
	return &r.retry
}

// PickCluster returns one of the route's clusters, chosen at random with
// probability proportional to its weight. It takes no lock and does not
// allocate. It returns nil for a route without clusters, which [NewTable]
// does not accept.
func (r *Route) PickCluster() *Cluster {
	switch len(r.Clusters) {
	case 0:
		return nil
	case 1:
		return r.Clusters[0].Cluster
	}
	if len(r.cumulative) != len(r.Clusters) {
		return r.pickUncompiled()
	}
	return r.Clusters[pickIndex(r.cumulative, rand.Uint64N(r.cumulative[len(r.cumulative)-1]))].Cluster
}

// pickIndex returns the index of the first element of cumulative greater than
// x, which is below the last element.
func pickIndex(cumulative []uint64, x uint64) int {
	lo, hi := 0, len(cumulative)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if cumulative[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// pickUncompiled serves routes that did not come from NewTable.
func (r *Route) pickUncompiled() *Cluster {
	var total uint64
	for _, wc := range r.Clusters {
		total += uint64(wc.Weight)
	}
	if total == 0 {
		return r.Clusters[0].Cluster
	}
	x := rand.Uint64N(total)
	for _, wc := range r.Clusters {
		if x < uint64(wc.Weight) {
			return wc.Cluster
		}
		x -= uint64(wc.Weight)
	}
	return r.Clusters[len(r.Clusters)-1].Cluster
}

// Table is an immutable route table, compiled once per snapshot by
// [NewTable]. It is safe for concurrent use.
type Table struct {
	routes []*Route
	exact  map[string][]*Route // by full method, in table order
	prefix *node               // radix tree of prefix routes
	// service indexes the leaf nodes whose prefix is a whole service ("/pkg.Service/"): for those,
	// the longest match is found with one map lookup instead of a walk down the tree, so the cost
	// of Match does not grow with the number of services.
	service map[string]*node
}

// NewTable validates routes and compiles them into a table. It copies what it
// keeps, so the caller may reuse routes. All problems found are reported,
// joined into one error.
func NewTable(routes []Route) (*Table, error) {
	var errs []error
	for i := range routes {
		if err := validateRoute(&routes[i]); err != nil {
			errs = append(errs, fmt.Errorf("routing: route %d (%q): %w", i, routes[i].Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	t := &Table{
		routes: make([]*Route, len(routes)),
		exact:  make(map[string][]*Route),
		prefix: &node{},
	}
	compiled := make([]Route, len(routes))
	for i := range routes {
		r := &compiled[i]
		*r = routes[i]
		r.Match.Headers = slices.Clone(r.Match.Headers)
		r.Clusters = slices.Clone(r.Clusters)
		r.retry = r.Retry.withDefaults()
		r.Retry.RetryOn = slices.Clone(r.Retry.RetryOn)
		r.cumulative = make([]uint64, len(r.Clusters))
		var sum uint64
		for j, wc := range r.Clusters {
			sum += uint64(wc.Weight)
			r.cumulative[j] = sum
		}
		t.routes[i] = r
		if r.Match.Method != "" {
			t.exact[r.Match.Method] = append(t.exact[r.Match.Method], r)
		} else {
			n := t.prefix.insert(r.Match.Prefix)
			n.routes = append(n.routes, r)
		}
	}
	t.prefix.link(nil)
	t.service = make(map[string]*node)
	t.prefix.indexServices("", t.service)
	return t, nil
}

// indexServices records the leaves below n (whose path from the root spells prefix) that are a whole
// service's prefix, "/pkg.Service/".
func (n *node) indexServices(prefix string, index map[string]*node) {
	prefix += n.label
	if len(n.children) == 0 && len(n.routes) > 0 && strings.Count(prefix, "/") == 2 &&
		len(prefix) > 2 && prefix[0] == '/' && prefix[len(prefix)-1] == '/' {
		index[prefix] = n
	}
	for _, c := range n.children {
		c.indexServices(prefix, index)
	}
}

func validateRoute(r *Route) error {
	errs := []error{r.Match.validate()}
	if len(r.Clusters) == 0 {
		errs = append(errs, errors.New("no clusters"))
	}
	for i, wc := range r.Clusters {
		if wc.Cluster == nil {
			errs = append(errs, fmt.Errorf("cluster %d is nil", i))
		} else if wc.Weight == 0 {
			errs = append(errs, fmt.Errorf("cluster %d (%q) has weight 0", i, wc.Cluster.Name()))
		}
	}
	if r.Timeout < 0 {
		errs = append(errs, fmt.Errorf("negative timeout %v", r.Timeout))
	}
	errs = append(errs, r.Retry.validate())
	return errors.Join(errs...)
}

// Match returns the route for a call of method (a full method name
// "/pkg.Service/Method") with headers h, or nil when no route matches. A nil h
// has no headers.
//
// The candidates are the routes for exactly method, in table order, then the
// prefix routes from the longest matching prefix to the shortest (in table
// order within one prefix); the first candidate whose header matchers all
// match wins. Match does not allocate.
func (t *Table) Match(method string, h Headers) *Route {
	if t == nil {
		return nil
	}
	for _, r := range t.exact[method] {
		if r.Match.headersMatch(h) {
			return r
		}
	}
	var start *node
	if i := strings.LastIndexByte(method, '/'); i > 0 {
		start = t.service[method[:i+1]]
	}
	if start == nil {
		start = t.prefix.longest(method)
	}
	for n := start; n != nil; n = n.up {
		for _, r := range n.routes {
			if r.Match.headersMatch(h) {
				return r
			}
		}
	}
	return nil
}

// Routes returns the table's routes in table order. The slice is the caller's;
// the routes are the table's and must not be modified.
func (t *Table) Routes() []*Route {
	if t == nil {
		return nil
	}
	return slices.Clone(t.routes)
}

// node is a node of the radix tree of prefix routes. The path from the root to
// a node spells the prefix its routes match.
type node struct {
	label    string   // edge label from the parent; empty only at the root
	indices  string   // first byte of each child's label, parallel to children
	children []*node  // no two children share a first byte
	routes   []*Route // routes whose prefix ends here, in table order
	up       *node    // nearest proper ancestor with routes
}

// insert returns the node for key below n, creating and splitting nodes as
// needed.
func (n *node) insert(key string) *node {
	for key != "" {
		i := strings.IndexByte(n.indices, key[0])
		if i < 0 {
			child := &node{label: key}
			n.indices += key[:1]
			n.children = append(n.children, child)
			return child
		}
		child := n.children[i]
		l := commonPrefixLen(key, child.label)
		if l < len(child.label) {
			// Split child at l: it keeps the shared part, a new node below
			// it takes the rest along with child's routes and children.
			tail := &node{
				label:    child.label[l:],
				indices:  child.indices,
				children: child.children,
				routes:   child.routes,
			}
			child.label = child.label[:l]
			child.indices = tail.label[:1]
			child.children = []*node{tail}
			child.routes = nil
		}
		n, key = child, key[l:]
	}
	return n
}

// link sets the up pointers of n and its subtree; up is n's nearest proper
// ancestor with routes.
func (n *node) link(up *node) {
	n.up = up
	if len(n.routes) > 0 {
		up = n
	}
	for _, c := range n.children {
		c.link(up)
	}
}

// longest returns the node with routes for the longest prefix of s in the
// tree below n, or nil.
func (n *node) longest(s string) *node {
	var found *node
	for {
		if len(n.routes) > 0 {
			found = n
		}
		if s == "" {
			return found
		}
		// A loop, not strings.IndexByte: fan-out is small and the call
		// costs more than the scan.
		c, next := s[0], (*node)(nil)
		for i := 0; i < len(n.indices); i++ {
			if n.indices[i] == c {
				next = n.children[i]
				break
			}
		}
		if next == nil || len(s) < len(next.label) || s[1:len(next.label)] != next.label[1:] {
			return found
		}
		n, s = next, s[len(next.label):]
	}
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
