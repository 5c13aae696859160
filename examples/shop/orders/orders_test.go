package orders_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/protogate/gateway/examples/shop/orders"
	commonv1 "github.com/protogate/gateway/gen/shop/common/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
)

// start serves a fresh orders.Server on a loopback port and returns a client of it.
func start(t testing.TB, opts ...orders.Option) ordersv1.OrderServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	ordersv1.RegisterOrderServiceServer(srv, orders.New(opts...))
	go srv.Serve(lis) //nolint:errcheck // returns when the cleanup stops the server
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return ordersv1.NewOrderServiceClient(conn)
}

func wantCode(t *testing.T, err error, code codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("error = %v, want code %v", err, code)
	}
	return st
}

func violations(t *testing.T, st *status.Status) []string {
	t.Helper()
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			var fields []string
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
			return fields
		}
	}
	t.Fatalf("status %v has no BadRequest detail", st)
	return nil
}

// nanos returns m in nano units; the test amounts are far below the 292 years of nanoseconds
// int64 holds.
func nanos(m *commonv1.Money) int64 { return m.GetUnits()*1e9 + int64(m.GetNanos()) }

// checkTotal reports whether o's total is the sum of its line items, in euros, well formed.
func checkTotal(t *testing.T, o *ordersv1.Order) {
	t.Helper()
	var sum int64
	for _, it := range o.GetItems() {
		if it.GetUnitPrice().GetCurrencyCode() != "EUR" || it.GetQuantity() < 1 {
			t.Errorf("order %s: line item %v", o.GetId(), it)
		}
		sum += nanos(it.GetUnitPrice()) * int64(it.GetQuantity())
	}
	total := o.GetTotal()
	if total.GetCurrencyCode() != "EUR" || nanos(total) != sum || total.GetNanos() < 0 || total.GetNanos() >= 1e9 {
		t.Errorf("order %s: total %v, want %d nanos EUR", o.GetId(), total, sum)
	}
}

func listAll(t *testing.T, c ordersv1.OrderServiceClient, req *ordersv1.ListOrdersRequest) []*ordersv1.Order {
	t.Helper()
	var out []*ordersv1.Order
	for {
		resp, err := c.ListOrders(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resp.GetOrders()...)
		if resp.GetNextPageToken() == "" {
			return out
		}
		if len(resp.GetOrders()) == 0 {
			t.Fatal("empty page with a next page token")
		}
		req = proto.CloneOf(req)
		req.PageToken = resp.GetNextPageToken()
	}
}

func ids(os []*ordersv1.Order) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.GetId()
	}
	return out
}

// TestSeed checks every seed user has at least three well-formed orders, listed newest first, and
// that the seed uses every field of Order.
func TestSeed(t *testing.T) {
	t.Parallel()
	c := start(t)
	seen := map[string]bool{}
	statuses := map[ordersv1.OrderStatus]int{}
	var cards, vouchers, gifts, notes int
	for u := 1; u <= 24; u++ {
		list := listAll(t, c, &ordersv1.ListOrdersRequest{UserId: fmt.Sprint(u), PageSize: 100})
		if len(list) < 3 {
			t.Errorf("user %d has %d orders, want at least 3", u, len(list))
		}
		for i, o := range list {
			if o.GetUserId() != fmt.Sprint(u) || seen[o.GetId()] {
				t.Errorf("order %s listed for user %d (user_id %s, seen before %v)", o.GetId(), u, o.GetUserId(), seen[o.GetId()])
			}
			seen[o.GetId()] = true
			if i > 0 && o.GetCreatedAt().AsTime().After(list[i-1].GetCreatedAt().AsTime()) {
				t.Errorf("user %d: order %s is newer than %s, listed before it", u, o.GetId(), list[i-1].GetId())
			}
			if n := len(o.GetItems()); n < 1 || n > 4 {
				t.Errorf("order %s has %d items", o.GetId(), n)
			}
			checkTotal(t, o)
			if o.GetDeliveryEstimate() == nil {
				t.Errorf("order %s has no delivery estimate", o.GetId())
			}
			statuses[o.GetStatus()]++
			switch o.GetPayment().(type) {
			case *ordersv1.Order_Card:
				cards++
			case *ordersv1.Order_VoucherCode:
				vouchers++
			}
			if o.GetGiftMessage() != nil {
				gifts++
			}
			if len(o.GetNotes()) > 0 {
				notes++
			}
		}
	}
	if len(seen) != orders.SeedCount {
		t.Errorf("%d seed orders, want %d", len(seen), orders.SeedCount)
	}
	for i := 1; i <= orders.SeedCount; i++ {
		if !seen[fmt.Sprintf("o%d", i)] {
			t.Errorf("order o%d not listed for any user", i)
		}
	}
	if len(statuses) != 5 || cards == 0 || vouchers == 0 || gifts == 0 || notes == 0 {
		t.Errorf("seed lacks variety: statuses %v, %d cards, %d vouchers, %d gifts, %d with notes", statuses, cards, vouchers, gifts, notes)
	}
}

func TestGetOrder(t *testing.T) {
	t.Parallel()
	c := start(t)
	o, err := c.GetOrder(context.Background(), &ordersv1.GetOrderRequest{Id: "o1"})
	if err != nil {
		t.Fatal(err)
	}
	if o.GetUserId() != "1" || len(o.GetItems()) == 0 || o.GetItems()[0].GetProductId() == "" {
		t.Errorf("o1 = %v", o)
	}

	_, err = c.GetOrder(context.Background(), &ordersv1.GetOrderRequest{Id: "o999"})
	st := wantCode(t, err, codes.NotFound)
	if st.Message() != `order "o999" not found` || len(st.Details()) != 1 {
		t.Errorf("status %v", st.Proto())
	}
	_, err = c.GetOrder(context.Background(), &ordersv1.GetOrderRequest{})
	wantCode(t, err, codes.InvalidArgument)
}

func TestListOrdersPaging(t *testing.T) {
	t.Parallel()
	c := start(t)
	whole := ids(listAll(t, c, &ordersv1.ListOrdersRequest{UserId: "1", PageSize: 100}))
	if len(whole) != 4 {
		t.Fatalf("user 1 has orders %v, want four", whole)
	}
	for _, size := range []int32{1, 2, 3, 4} {
		if got := ids(listAll(t, c, &ordersv1.ListOrdersRequest{UserId: "1", PageSize: size})); !slices.Equal(got, whole) {
			t.Errorf("page_size %d: %v, want %v", size, got, whole)
		}
	}

	for _, st := range []ordersv1.OrderStatus{ordersv1.OrderStatus_ORDER_STATUS_PENDING, ordersv1.OrderStatus_ORDER_STATUS_DELIVERED} {
		got := listAll(t, c, &ordersv1.ListOrdersRequest{UserId: "3", Status: st, PageSize: 1})
		if len(got) == 0 {
			t.Errorf("user 3 has no %v orders", st)
		}
		for _, o := range got {
			if o.GetStatus() != st {
				t.Errorf("filter %v listed %s with status %v", st, o.GetId(), o.GetStatus())
			}
		}
	}
	if got := listAll(t, c, &ordersv1.ListOrdersRequest{UserId: "no-such-user"}); len(got) != 0 {
		t.Errorf("unknown user has orders %v", ids(got))
	}

	first, err := c.ListOrders(context.Background(), &ordersv1.ListOrdersRequest{UserId: "1", PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]*ordersv1.ListOrdersRequest{
		"no user":          {},
		"negative size":    {UserId: "1", PageSize: -5},
		"other user":       {UserId: "2", PageToken: first.GetNextPageToken()},
		"garbage token":    {UserId: "1", PageToken: "%%%"},
		"tampered token":   {UserId: "1", PageToken: first.GetNextPageToken()[:len(first.GetNextPageToken())-2]},
		"token for status": {UserId: "1", PageToken: first.GetNextPageToken(), Status: ordersv1.OrderStatus_ORDER_STATUS_PAID},
	} {
		_, err := c.ListOrders(context.Background(), req)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: error %v, want InvalidArgument", name, err)
		}
	}
}

func TestCreateOrder(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, time.June, 1, 8, 0, 0, 0, time.UTC)
	c := start(t, orders.WithClock(func() time.Time { return now }))
	ctx := context.Background()

	o, err := c.CreateOrder(ctx, &ordersv1.CreateOrderRequest{
		UserId: "1",
		Items: []*ordersv1.LineItem{
			{ProductId: "p1", Quantity: 2, UnitPrice: &commonv1.Money{CurrencyCode: "EUR", Units: 1}}, // price ignored
			{ProductId: "p4", Quantity: 1},
		},
		Payment:     &ordersv1.CreateOrderRequest_Card{Card: &ordersv1.Card{Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2030}},
		GiftMessage: wrapperspb.String("For Charles"),
		Notes:       map[string]string{"delivery": "by hand"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// 2 × 24.99 + 129.90 = 179.88
	want := &commonv1.Money{CurrencyCode: "EUR", Units: 179, Nanos: 880_000_000}
	if !proto.Equal(o.GetTotal(), want) {
		t.Errorf("total %v, want %v", o.GetTotal(), want)
	}
	checkTotal(t, o)
	if o.GetId() != fmt.Sprintf("o%d", orders.SeedCount+1) || o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_PAID ||
		!o.GetCreatedAt().AsTime().Equal(now) || o.GetCard().GetLast4() != "4242" ||
		o.GetGiftMessage().GetValue() != "For Charles" || o.GetNotes()["delivery"] != "by hand" ||
		o.GetDeliveryEstimate().AsDuration() != orders.DeliveryEstimate {
		t.Errorf("created %v", o)
	}
	latest, err := c.ListOrders(ctx, &ordersv1.ListOrdersRequest{UserId: "1", PageSize: 1})
	if err != nil || !proto.Equal(latest.GetOrders()[0], o) {
		t.Errorf("newest order of user 1 = %v, %v; want the new one", latest.GetOrders(), err)
	}

	unpaid, err := c.CreateOrder(ctx, &ordersv1.CreateOrderRequest{UserId: "2", Items: []*ordersv1.LineItem{{ProductId: "p12", Quantity: 3}}})
	if err != nil || unpaid.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_PENDING || unpaid.GetId() != fmt.Sprintf("o%d", orders.SeedCount+2) {
		t.Errorf("unpaid order %v, %v", unpaid, err)
	}

	for _, tc := range []struct {
		req  *ordersv1.CreateOrderRequest
		want []string
	}{
		{&ordersv1.CreateOrderRequest{}, []string{"user_id", "items"}},
		{&ordersv1.CreateOrderRequest{UserId: "1", Items: []*ordersv1.LineItem{
			{ProductId: "p99", Quantity: 1}, {Quantity: 1}, {ProductId: "p2"}, {ProductId: "p01", Quantity: 1},
		}}, []string{"items[0].product_id", "items[1].product_id", "items[2].quantity", "items[3].product_id"}},
		{&ordersv1.CreateOrderRequest{UserId: "1", Items: []*ordersv1.LineItem{{ProductId: "p2", Quantity: orders.MaxQuantity + 1}}}, []string{"items[0].quantity"}},
		{&ordersv1.CreateOrderRequest{UserId: "1", Items: []*ordersv1.LineItem{{ProductId: "p2", Quantity: 1}},
			Payment: &ordersv1.CreateOrderRequest_Card{Card: &ordersv1.Card{Last4: "42", ExpMonth: 13}}},
			[]string{"card.brand", "card.last4", "card.exp_month", "card.exp_year"}},
		{&ordersv1.CreateOrderRequest{UserId: "1", Items: []*ordersv1.LineItem{{ProductId: "p2", Quantity: 1}},
			Payment: &ordersv1.CreateOrderRequest_VoucherCode{}}, []string{"voucher_code"}},
	} {
		_, err := c.CreateOrder(ctx, tc.req)
		if got := violations(t, wantCode(t, err, codes.InvalidArgument)); !slices.Equal(got, tc.want) {
			t.Errorf("create %v: violations %q, want %q", tc.req, got, tc.want)
		}
	}
}

func TestCancelOrder(t *testing.T) {
	t.Parallel()
	c := start(t)
	ctx := context.Background()
	// Seed statuses of user 1's orders: o1 pending, o2 paid, o3 shipped, o4 delivered.
	for id, want := range map[string]ordersv1.OrderStatus{
		"o1": ordersv1.OrderStatus_ORDER_STATUS_PENDING, "o2": ordersv1.OrderStatus_ORDER_STATUS_PAID,
		"o3": ordersv1.OrderStatus_ORDER_STATUS_SHIPPED, "o4": ordersv1.OrderStatus_ORDER_STATUS_DELIVERED,
	} {
		if o, err := c.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: id}); err != nil || o.GetStatus() != want {
			t.Fatalf("%s: status %v, %v; want %v", id, o.GetStatus(), err, want)
		}
	}

	for _, id := range []string{"o1", "o2"} {
		o, err := c.CancelOrder(ctx, &ordersv1.CancelOrderRequest{Id: id, Reason: "changed my mind"})
		if err != nil || o.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_CANCELLED || o.GetNotes()["cancel_reason"] != "changed my mind" {
			t.Errorf("cancel %s: %v, %v", id, o, err)
		}
		again, err := c.CancelOrder(ctx, &ordersv1.CancelOrderRequest{Id: id, Reason: "twice"})
		if err != nil || !proto.Equal(again, o) {
			t.Errorf("cancel %s again: %v, %v; want it unchanged", id, again, err)
		}
		if read, _ := c.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: id}); !proto.Equal(read, o) {
			t.Errorf("GetOrder(%s) after cancel = %v", id, read)
		}
	}
	cancelled := listAll(t, c, &ordersv1.ListOrdersRequest{UserId: "1", Status: ordersv1.OrderStatus_ORDER_STATUS_CANCELLED})
	if got := ids(cancelled); len(got) != 2 || !slices.Contains(got, "o1") || !slices.Contains(got, "o2") {
		t.Errorf("cancelled orders of user 1: %v", got)
	}

	for _, id := range []string{"o3", "o4"} {
		_, err := c.CancelOrder(ctx, &ordersv1.CancelOrderRequest{Id: id})
		st := wantCode(t, err, codes.FailedPrecondition)
		var pf *errdetails.PreconditionFailure
		for _, d := range st.Details() {
			pf, _ = d.(*errdetails.PreconditionFailure)
		}
		if v := pf.GetViolations(); len(v) != 1 || v[0].GetSubject() != "orders/"+id || v[0].GetType() != "ORDER_STATUS" {
			t.Errorf("cancel %s: details %v", id, st.Details())
		}
	}
	_, err := c.CancelOrder(ctx, &ordersv1.CancelOrderRequest{Id: "o999"})
	wantCode(t, err, codes.NotFound)
	_, err = c.CancelOrder(ctx, &ordersv1.CancelOrderRequest{})
	wantCode(t, err, codes.InvalidArgument)
}

func TestImportOrders(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, time.July, 1, 0, 0, 0, 0, time.UTC)
	c := start(t, orders.WithClock(func() time.Time { return now }))
	ctx := context.Background()
	usd := &commonv1.Money{CurrencyCode: "USD", Units: 3}
	item := func(product string, q int32, price *commonv1.Money) *ordersv1.LineItem {
		return &ordersv1.LineItem{ProductId: product, Quantity: q, UnitPrice: price}
	}
	sent := []*ordersv1.Order{
		{Id: "ext-1", UserId: "7", Items: []*ordersv1.LineItem{item("book-42", 3, &commonv1.Money{CurrencyCode: "EUR", Units: 1, Nanos: 500_000_000}), item("p2", 1, nil)},
			Status: ordersv1.OrderStatus_ORDER_STATUS_DELIVERED, CreatedAt: timestamppb.New(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)),
			Total: &commonv1.Money{CurrencyCode: "EUR", Units: 1_000_000}}, // a wrong total is recomputed
		{UserId: "8", Items: []*ordersv1.LineItem{item("p3", 1, nil)}},           // gets an id
		{Id: "ext-2", Items: []*ordersv1.LineItem{item("p3", 1, nil)}},           // no user
		{Id: "o1", UserId: "1", Items: []*ordersv1.LineItem{item("p3", 1, nil)}}, // seed id
		{Id: "ext-1", UserId: "7", Items: []*ordersv1.LineItem{item("p3", 1, nil)}},
		nil,
		{Id: "ext-3", UserId: "9"},
		{Id: "ext-4", UserId: "9", Items: []*ordersv1.LineItem{item("p3", 1, nil), item("x", 1, usd)}},
		{Id: "ext-5", UserId: "9", Items: []*ordersv1.LineItem{item("x", 1, nil)}},
		{Id: "ext-6", UserId: "9", Items: []*ordersv1.LineItem{item("p3", 0, nil)}},
		{Id: "ext-7", UserId: "9", Items: []*ordersv1.LineItem{item("x", 1, &commonv1.Money{CurrencyCode: "EUR", Units: 1, Nanos: -1})}},
	}
	stream, err := c.ImportOrders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range sent {
		if err := stream.Send(&ordersv1.ImportOrdersRequest{Order: o}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	wantRejected := []string{"#6", "ext-1", "ext-2", "ext-3", "ext-4", "ext-5", "ext-6", "ext-7", "o1"}
	if resp.GetImported() != 2 || !slices.Equal(slices.Sorted(maps.Keys(resp.GetRejected())), wantRejected) {
		t.Errorf("imported %d, rejected %v; want 2 and %v", resp.GetImported(), resp.GetRejected(), wantRejected)
	}
	for id, reason := range resp.GetRejected() {
		if reason == "" {
			t.Errorf("%s rejected without a reason", id)
		}
	}

	ext, err := c.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: "ext-1"})
	if err != nil {
		t.Fatal(err)
	}
	checkTotal(t, ext)
	// 3 × 1.50 + 18.50 (list price of p2) = 23.00
	if nanos(ext.GetTotal()) != 23e9 || ext.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_DELIVERED || ext.GetCreatedAt().AsTime().Year() != 2020 {
		t.Errorf("imported ext-1 = %v", ext)
	}
	assigned := listAll(t, c, &ordersv1.ListOrdersRequest{UserId: "8"})[0]
	if assigned.GetId() != fmt.Sprintf("o%d", orders.SeedCount+1) || assigned.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_PENDING || !assigned.GetCreatedAt().AsTime().Equal(now) {
		t.Errorf("imported order without id = %v", assigned)
	}
	if o1, _ := c.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: "o1"}); o1.GetItems()[0].GetProductId() == "p3" && len(o1.GetItems()) == 1 {
		t.Errorf("duplicate import replaced o1: %v", o1)
	}
}
