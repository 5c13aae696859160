package registry

import (
	"fmt"
	"maps"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/schema"
	"github.com/protogate/gateway/transcoder"
)

// graphQLOptions turns the GraphQL section of a validated config into the schema's options (links,
// overrides, prefixes) and the front's (limits, introspection, the query page, persisted operations, REST routes).
func graphQLOptions(g config.GraphQL) (schema.Options, resolvers.Options) {
	var so schema.Options
	for _, l := range g.Links {
		sl := schema.Link{OnType: l.Type, Field: l.Field, Method: l.Method, Args: maps.Clone(l.Args), ResultField: l.ResultField}
		if b := l.Batch; b != nil {
			sl.Batch = &schema.BatchLink{Method: b.Method, RequestField: b.RequestField, ResponseField: b.ResponseField, KeyField: b.KeyField}
		}
		so.Links = append(so.Links, sl)
	}
	for _, o := range g.Overrides {
		so.Overrides = append(so.Overrides, schema.Override{Service: o.Service, Method: o.Method, Name: o.Name,
			Operation: ast.Operation(o.Operation), Hide: o.Hide})
	}
	if len(g.Prefixes) > 0 {
		so.Prefixes = maps.Clone(g.Prefixes)
	}

	ro := resolvers.Options{
		MaxDepth:             g.MaxDepth,
		MaxComplexity:        g.MaxComplexity,
		MaxAliases:           g.MaxAliases,
		MaxRootFields:        g.MaxRootFields,
		MaxFields:            g.MaxFields,
		MaxFragments:         g.MaxFragments,
		MaxDocumentBytes:     int(g.MaxDocumentBytes),
		MaxConcurrentCalls:   g.MaxConcurrentCalls,
		DisableIntrospection: !g.IntrospectionOn(),
		Page:                 g.QueryPageOn(),
		APQ:                  g.APQ,
		APQCacheSize:         g.APQCacheSize,
		PersistedOnly:        g.PersistedOnly,
	}
	ops := g.PersistedOperations
	if len(ops.FromFile)+len(ops.Operations) > 0 {
		ro.PersistedOperations = maps.Clone(ops.FromFile)
		if ro.PersistedOperations == nil {
			ro.PersistedOperations = make(map[string]string, len(ops.Operations))
		}
	}
	for _, op := range ops.Operations {
		hash := op.Hash()
		ro.PersistedOperations[hash] = op.Document
		if ro.PersistedNames == nil {
			ro.PersistedNames = make(map[string]string, len(ops.Operations))
		}
		ro.PersistedNames[hash] = op.Name
		if op.REST.Path != "" {
			ro.Routes = append(ro.Routes, resolvers.Route{Method: op.REST.Method, Path: op.REST.Path, Operation: hash, OperationName: op.OperationName})
		}
	}
	return so, ro
}

// checkOperationRoutes refuses REST routes of persisted operations that a registered service's
// binding also serves: a path both could answer would be served by the operation and hide the
// method.
func checkOperationRoutes(routes []resolvers.Route, rest *transcoder.Router) error {
	var problems []string
	for _, r := range routes {
		segs, err := resolvers.RoutePath(r.Path)
		if err != nil {
			return fmt.Errorf("GraphQL persisted operation route: %w", err)
		}
		var sample strings.Builder
		for _, s := range segs {
			sample.WriteByte('/')
			if s.Variable != "" {
				sample.WriteString("x")
			} else {
				sample.WriteString(s.Literal)
			}
		}
		method := strings.ToUpper(r.Method)
		if method == "" {
			method = "GET"
		}
		var p transcoder.Params
		if b, err := rest.Lookup(method, sample.String(), false, &p); err == nil {
			problems = append(problems, fmt.Sprintf("REST route %s %s of a GraphQL persisted operation collides with %s (%s %s)",
				method, r.Path, strings.TrimPrefix(b.FullMethod(), "/"), b.HTTPMethod(), b.Template()))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrConflict, strings.Join(problems, "; "))
	}
	return nil
}
