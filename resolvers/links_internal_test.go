package resolvers

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/schema"
)

// funcCaller answers each method with a function of its request.
type funcCaller struct {
	mu      sync.Mutex
	methods map[string]func(req []byte) []byte
	calls   [][2]string // method, request
}

func (c *funcCaller) Route(ctx context.Context, _ string, _ metadata.MD) (routing.Upstream, error) {
	return routing.Upstream{Ctx: ctx, Conn: c}, nil
}

func (*funcCaller) CallOptions() []grpc.CallOption { return nil }

func (*funcCaller) Admit(context.Context, string, metadata.MD, int) (func(), error) {
	return func() {}, nil
}

func (c *funcCaller) CallUnary(ctx context.Context, method string, _ metadata.MD, req, resp any, opts ...grpc.CallOption) error {
	return c.Invoke(ctx, method, req, resp, opts...)
}

func (c *funcCaller) Invoke(_ context.Context, method string, args, reply any, _ ...grpc.CallOption) error {
	req := args.(*routing.Frame).Bytes()
	c.mu.Lock()
	c.calls = append(c.calls, [2]string{method, string(req)})
	c.mu.Unlock()
	reply.(*routing.Frame).SetBytes(c.methods[method](req))
	return nil
}

func (*funcCaller) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return nil, errors.New("no streams")
}

// Beyond the keys one batch call may carry, a wave makes several batch calls, in parallel, and
// each fills only the keys it asked for even when the upstream answers more; a key no answer has
// fails its field with NOT_FOUND.
func TestBatchChunks(t *testing.T) {
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
	marshal := func(m proto.Message) []byte { b, _ := proto.Marshal(m); return b }
	c := &funcCaller{methods: map[string]func([]byte) []byte{
		"/shop.orders.v1.OrderService/ListOrders": func([]byte) []byte {
			resp := &ordersv1.ListOrdersResponse{}
			for _, u := range []string{"a", "b", "c", "a", "d", "e"} {
				resp.Orders = append(resp.Orders, &ordersv1.Order{Id: "o-" + u, UserId: u})
			}
			return marshal(resp)
		},
		"/shop.users.v1.UserService/BatchGetUsers": func(req []byte) []byte {
			var in usersv1.BatchGetUsersRequest
			_ = proto.Unmarshal(req, &in)
			resp := &usersv1.BatchGetUsersResponse{}
			for _, id := range in.GetIds() {
				if id != "e" { // e has no user
					resp.Users = append(resp.Users, &usersv1.User{Id: id, Name: "name of " + id})
				}
			}
			// Every answer also brings user d, which only one call asked for, with another name.
			resp.Users = append(resp.Users, &usersv1.User{Id: "d", Name: "stray d"})
			return marshal(resp)
		},
	}}
	x := newExecutor(s, c, Options{})
	x.maxBatchKeys = 2
	srv := handler.New(x)
	srv.AddTransport(transport.POST{})
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ listOrders(userId: \"x\") { orders { id user { name } } } }"}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, req)
	want := `{"errors":[{"message":"rpc error: code = NotFound desc = shop.users.v1.UserService/BatchGetUsers returned no users with id \"e\"",` +
		`"path":["listOrders","orders",5,"user"],"locations":[{"line":1,"column":41}]}],` + // gqlgen's presenter: the handler's words the error
		`"data":{"listOrders":{"orders":[` +
		`{"id":"o-a","user":{"name":"name of a"}},{"id":"o-b","user":{"name":"name of b"}},` +
		`{"id":"o-c","user":{"name":"name of c"}},{"id":"o-a","user":{"name":"name of a"}},` +
		`{"id":"o-d","user":{"name":"name of d"}},{"id":"o-e","user":null}]}}}`
	if got := w.Body.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var batches []string
	for _, call := range c.calls {
		if strings.HasSuffix(call[0], "/BatchGetUsers") {
			var in usersv1.BatchGetUsersRequest
			_ = proto.Unmarshal([]byte(call[1]), &in)
			batches = append(batches, strings.Join(in.GetIds(), ","))
		}
	}
	slices.Sort(batches)
	if !slices.Equal(batches, []string{"a,b", "c,d", "e"}) {
		t.Errorf("batch calls asked for %q, want a,b and c,d and e", batches)
	}
}

// keyText writes a batch key as the client reads the key field, whatever its kind: the error of a
// key without a result names it so.
func TestKeyText(t *testing.T) {
	field := func(m protoreflect.MessageDescriptor, name protoreflect.Name) protoreflect.FieldDescriptor {
		return m.Fields().ByName(name)
	}
	for _, tc := range []struct {
		fd   protoreflect.FieldDescriptor
		f    wireField
		want string
	}{
		{field(usersv1.File_shop_users_v1_users_proto.Messages().ByName("User"), "id"), wireField{b: []byte("u-1")}, "u-1"},
		{field((&wrapperspb.Int64Value{}).ProtoReflect().Descriptor(), "value"), wireField{u: uint64(1) << 40}, "1099511627776"},
		{field((&wrapperspb.Int32Value{}).ProtoReflect().Descriptor(), "value"), wireField{u: uint64(0xffffffffffffffff)}, "-1"},
		{field((&wrapperspb.UInt32Value{}).ProtoReflect().Descriptor(), "value"), wireField{u: 4294967295}, "4294967295"},
		{field((&wrapperspb.BoolValue{}).ProtoReflect().Descriptor(), "value"), wireField{u: 1}, "true"},
		{field((&wrapperspb.BytesValue{}).ProtoReflect().Descriptor(), "value"), wireField{b: []byte{0xff, 0}}, "/wA="},
		{field((&wrapperspb.DoubleValue{}).ProtoReflect().Descriptor(), "value"), wireField{u: math.Float64bits(2.5)}, "2.5"},
		{field(ordersv1.File_shop_orders_v1_orders_proto.Messages().ByName("Order"), "status"), wireField{u: 2}, "ORDER_STATUS_PAID"},
	} {
		key := string(canonical(nil, tc.fd.Kind(), tc.f))
		if got := keyText(tc.fd, key); got != tc.want {
			t.Errorf("%s (%s): keyText = %q, want %q", tc.fd.FullName(), tc.fd.Kind(), got, tc.want)
		}
	}
}
