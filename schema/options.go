package schema

import (
	"fmt"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// Options change the schema Build makes from the conventions; the zero value keeps them all. What the
// options say wins over the same thing said in the services' gateway proto options.
type Options struct {
	// Links add fields that resolve by calling another method (DESIGN.md, "Links").
	Links []Link
	// Overrides rename, move between Query and Mutation, or hide the root fields of a service or
	// of a method. Each must name a service or a method among the services built: a caller that
	// lets an override wait for what it names (the registry does) leaves it out until then
	// (Override.Target).
	Overrides []Override
	// Prefixes maps a protobuf package to a prefix for the GraphQL names of its messages and enums
	// ("shop.legacy.v1": "Legacy" makes User LegacyUser and its input LegacyUserInput), for packages
	// whose names would collide with another's. It applies to that package only, not to packages
	// nested in it.
	Prefixes map[string]string
}

// Link adds field Field to the object type of message OnType; its value comes from calling Method
// with request fields taken from the message. Its type is the method's response type (or the type of
// ResultField); it takes no arguments and is nullable.
type Link struct {
	// OnType is the full name of the message the field is added to: "shop.orders.v1.Order".
	OnType string
	// Field is the new field's GraphQL name: "user".
	Field string
	// Method is the method to call: "shop.users.v1.UserService/GetUser" ("/pkg.Service/Method" and
	// "pkg.Service.Method" are accepted too). It must be unary and among the services built; it
	// need not have a root field.
	Method string
	// Args maps request fields to field paths of OnType: {"id": "user_id"}. Paths are dotted
	// ("address.country"); proto and JSON names are both accepted.
	Args map[string]string
	// ResultField optionally names a field of the response to return instead of the response:
	// "orders" makes User.orders a [Order!] from ListOrdersResponse.orders. Not with Batch.
	ResultField string
	// Batch optionally names a batch method the link's calls are collected into.
	Batch *BatchLink
}

// BatchLink is the batch method of a link: Method takes the keys in the repeated RequestField and
// answers with the results, of the link method's response type, in the repeated ResponseField; a
// result's KeyField holds its key. The link must have exactly one argument, the key, e.g.
// {Method: "shop.users.v1.UserService/BatchGetUsers", RequestField: "ids", ResponseField: "users",
// KeyField: "id"}.
type BatchLink struct {
	Method        string
	RequestField  string
	ResponseField string
	KeyField      string
}

// Override changes the root fields of one service or one method. Exactly one of Service and Method is
// set. A method's override wins over its service's; unset fields keep what the proto options or the
// conventions say.
type Override struct {
	// Service is a service's full name: "shop.users.v1.UserService".
	Service string
	// Method is a method: "shop.users.v1.UserService/GetUser" (or "/pkg.Service/Method",
	// "pkg.Service.Method").
	Method string
	// Name is, for a method, its root field's name; for a service, a prefix for the root field
	// names of its methods that have no name of their own ("users" makes GetUser usersGetUser).
	Name string
	// Operation is ast.Query or ast.Mutation: where a unary method's root field goes. It may not
	// be set for a streaming method. For a service it applies to its unary methods.
	Operation ast.Operation
	// Hide leaves the method (or all of the service's methods) out of the schema. Links may still
	// call a hidden method.
	Hide bool
}

// methodKey normalizes a method name to "package.Service/Method". It returns "" when s names no
// method.
func methodKey(s string) string {
	s = strings.TrimPrefix(s, "/")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		if i == 0 || i == len(s)-1 || strings.Contains(s[i+1:], "/") {
			return ""
		}
		return s
	}
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || i == len(s)-1 {
		return ""
	}
	return s[:i] + "/" + s[i+1:]
}

// Target is what o changes: a service's full name ("shop.users.v1.UserService"), or a method as
// "package.Service/Method", whichever spelling o.Method has; "" when o sets both or neither of
// Service and Method, or its method is no method name.
func (o Override) Target() string {
	switch {
	case (o.Service == "") == (o.Method == ""):
		return ""
	case o.Service != "":
		return strings.TrimPrefix(o.Service, "/")
	}
	return methodKey(o.Method)
}

func (o Override) String() string {
	if o.Method != "" {
		return "override of method " + o.Method
	}
	return "override of service " + o.Service
}

func checkOperation(op ast.Operation) error {
	switch op {
	case "", ast.Query, ast.Mutation:
		return nil
	}
	return fmt.Errorf("operation %q is not query or mutation", op)
}
