package resolvers

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2"
	"google.golang.org/protobuf/reflect/protoreflect"

	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/schema"
)

// complexityLimit measures what gqlgen's complexity.Calculate measures, without argument maps.
func TestComplexityMatchesGqlgen(t *testing.T) {
	services := []protoreflect.ServiceDescriptor{
		usersv1.File_shop_users_v1_users_proto.Services().Get(0),
		ordersv1.File_shop_orders_v1_orders_proto.Services().Get(0),
	}
	s, err := schema.Build(services, schema.Options{Links: []schema.Link{{
		OnType: "shop.orders.v1.Order", Field: "user",
		Method: "shop.users.v1.UserService/GetUser", Args: map[string]string{"id": "user_id"},
		Batch: &schema.BatchLink{Method: "shop.users.v1.UserService/BatchGetUsers", RequestField: "ids", ResponseField: "users", KeyField: "id"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	x := newExecutor(s, nil, Options{})
	c := newComplexityLimit(x, 1<<20)
	free := complexity.WithIgnoreFields(map[string]struct{}{s.AST().Query.Name + ".__type": {}})
	for _, doc := range []string{
		`{ getUser(id: "1") { id name } }`,
		`query($id: String!) { getUser(id: $id) { id __typename } listOrders(userId: $id) { orders { id user { name } } } }`,
		`{ a: getUser(id: "1") { ...U } b: getUser(id: "2") { ...U ... on User { email } } } fragment U on User { id name }`,
		`{ listOrders(userId: "x") { orders { id user { id } } } __type(name: "User") { name fields { name } } }`,
		`{ __schema { types { name } } getUser(id: "1") { id } }`,
		`mutation { __typename }`,
	} {
		q, errs := gqlparser.LoadQueryWithRules(s.AST(), doc, nil)
		if errs != nil {
			t.Fatalf("%s: %v", doc, errs)
		}
		op := q.Operations[0]
		want := complexity.Calculate(context.Background(), x, op, map[string]any{"id": "1"}, free)
		opCtx := &graphql.OperationContext{Doc: q, Operation: op, Stats: graphql.Stats{}}
		if e := c.MutateOperationContext(context.Background(), opCtx); e != nil {
			t.Fatalf("%s: %v", doc, e)
		}
		got := opCtx.Stats.GetExtension("ComplexityLimit")
		if st, ok := got.(*extension.ComplexityStats); !ok || st.Complexity != want {
			t.Errorf("%s: complexity %+v, gqlgen's %d", doc, got, want)
		}
	}
	// Over the limit: gqlgen's code and text.
	small := newComplexityLimit(x, 5)
	q, _ := gqlparser.LoadQueryWithRules(s.AST(), `{ getUser(id: "1") { id name } }`, nil)
	e := small.MutateOperationContext(context.Background(), &graphql.OperationContext{Doc: q, Operation: q.Operations[0]})
	if e == nil || e.Message != "operation has complexity 12, which exceeds the limit of 5 (graphql.max_complexity)" || e.Extensions["code"] != "COMPLEXITY_LIMIT_EXCEEDED" ||
		e.Extensions["limit"] != "complexity" || e.Extensions["max"] != 5 || e.Extensions["actual"] != 12 {
		t.Errorf("over the limit: %v %v", e, e.Extensions)
	}
}
