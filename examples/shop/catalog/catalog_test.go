package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/protogate/gateway/examples/shop/catalog"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
)

// start serves a fresh catalog.Server on a loopback port and returns a client of it and the
// server, which the cleanup stops.
func start(t testing.TB, opts ...catalog.Option) (catalogv1.CatalogServiceClient, *grpc.Server) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	catalogv1.RegisterCatalogServiceServer(srv, catalog.New(opts...))
	go srv.Serve(lis) //nolint:errcheck // returns when the server stops
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return catalogv1.NewCatalogServiceClient(conn), srv
}

func wantCode(t *testing.T, err error, code codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("error = %v, want code %v", err, code)
	}
	return st
}

func ids(ps []*catalogv1.Product) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.GetId()
	}
	return out
}

func listAll(t *testing.T, c catalogv1.CatalogServiceClient, req *catalogv1.ListProductsRequest) []*catalogv1.Product {
	t.Helper()
	var out []*catalogv1.Product
	for {
		resp, err := c.ListProducts(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resp.GetProducts()...)
		if resp.GetNextPageToken() == "" {
			return out
		}
		if len(resp.GetProducts()) == 0 {
			t.Fatal("empty page with a next page token")
		}
		req = proto.CloneOf(req)
		req.PageToken = resp.GetNextPageToken()
	}
}

func stockOf(t *testing.T, c catalogv1.CatalogServiceClient, id string) int64 {
	t.Helper()
	p, err := c.GetProduct(context.Background(), &catalogv1.GetProductRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	return p.GetStock()
}

// TestSeed checks the seed catalog uses every field of Product.
func TestSeed(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	all := listAll(t, c, &catalogv1.ListProductsRequest{PageSize: 100})
	if len(all) != catalog.SeedCount || len(all) < 10 {
		t.Fatalf("%d products, want %d (at least 10)", len(all), catalog.SeedCount)
	}
	var unrated, discontinued, bigBarcodes int
	categories := map[catalogv1.Category]bool{}
	fields := productFields()
	for i, p := range all {
		if want := fmt.Sprintf("p%d", i+1); p.GetId() != want {
			t.Errorf("product %d has id %q, want %q", i, p.GetId(), want)
		}
		if p.GetPrice().GetCurrencyCode() != "EUR" || p.GetPrice().GetUnits() <= 0 || len(p.GetTags()) == 0 ||
			len(p.GetAttributes()) == 0 || len(p.GetThumbnail()) == 0 || p.GetUpdatedAt() == nil ||
			p.GetDimensions().GetWeightKg() <= 0 || len(p.GetBarcodes()) == 0 {
			t.Errorf("product %s lacks seed fields: %v", p.GetId(), p)
		}
		p.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			delete(fields, fd.Name())
			return true
		})
		if p.GetRating() == nil {
			unrated++
		}
		if p.GetDiscontinued() {
			discontinued++
		}
		for _, b := range p.GetBarcodes() {
			if b > 1<<53 {
				bigBarcodes++
			}
		}
		categories[p.GetCategory()] = true
	}
	if len(fields) > 0 {
		t.Errorf("no seed product sets %v", fields)
	}
	if unrated == 0 || discontinued != 1 || bigBarcodes == 0 || len(categories) != 4 {
		t.Errorf("%d unrated, %d discontinued, %d barcodes > 2^53, categories %v", unrated, discontinued, bigBarcodes, categories)
	}
}

func productFields() map[protoreflect.Name]bool {
	fields := (*catalogv1.Product)(nil).ProtoReflect().Descriptor().Fields()
	out := map[protoreflect.Name]bool{}
	for i := range fields.Len() {
		out[fields.Get(i).Name()] = true
	}
	return out
}

func TestGetProduct(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	ctx := context.Background()
	full, err := c.GetProduct(ctx, &catalogv1.GetProductRequest{Id: "p4"})
	if err != nil {
		t.Fatal(err)
	}
	if full.GetName() != "Mechanical Keyboard" || full.GetCategory() != catalogv1.Category_CATEGORY_ELECTRONICS {
		t.Errorf("p4 = %v", full)
	}

	masked, err := c.GetProduct(ctx, &catalogv1.GetProductRequest{Id: "p4", ReadMask: &fieldmaskpb.FieldMask{
		Paths: []string{"name", "price.units", "barcodes", "rating"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := &catalogv1.Product{Name: full.GetName(), Barcodes: full.GetBarcodes(), Rating: full.GetRating()}
	want.Price = proto.CloneOf(full.GetPrice())
	want.Price.CurrencyCode, want.Price.Nanos = "", 0
	if !proto.Equal(masked, want) {
		t.Errorf("masked p4:\n got %v\nwant %v", masked, want)
	}

	// The mask did not change what later reads see.
	again, err := c.GetProduct(ctx, &catalogv1.GetProductRequest{Id: "p4"})
	if err != nil || !proto.Equal(again, full) {
		t.Errorf("p4 after a masked read = %v, %v", again, err)
	}

	for _, tc := range []struct {
		req  *catalogv1.GetProductRequest
		code codes.Code
	}{
		{&catalogv1.GetProductRequest{Id: "p99"}, codes.NotFound},
		{&catalogv1.GetProductRequest{}, codes.InvalidArgument},
		{&catalogv1.GetProductRequest{Id: "p1", ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"colour"}}}, codes.InvalidArgument},
		{&catalogv1.GetProductRequest{Id: "p1", ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"attributes.colour"}}}, codes.InvalidArgument},
		{&catalogv1.GetProductRequest{Id: "p1", ReadMask: &fieldmaskpb.FieldMask{Paths: []string{""}}}, codes.InvalidArgument},
	} {
		_, err := c.GetProduct(ctx, tc.req)
		st := wantCode(t, err, tc.code)
		if len(st.Details()) == 0 {
			t.Errorf("%v: no details in %v", tc.req, st)
		}
	}
}

func TestListProducts(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	var want []string
	for i := 1; i <= catalog.SeedCount; i++ {
		want = append(want, fmt.Sprintf("p%d", i))
	}
	for _, size := range []int32{0, 1, 5, 11, 12, 13} {
		if got := ids(listAll(t, c, &catalogv1.ListProductsRequest{PageSize: size})); !slices.Equal(got, want) {
			t.Errorf("page_size %d: %v, want %v", size, got, want)
		}
	}
	books := ids(listAll(t, c, &catalogv1.ListProductsRequest{Category: catalogv1.Category_CATEGORY_BOOKS, PageSize: 2}))
	if !slices.Equal(books, []string{"p1", "p2", "p3"}) {
		t.Errorf("books: %v", books)
	}

	first, err := c.ListProducts(context.Background(), &catalogv1.ListProductsRequest{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]*catalogv1.ListProductsRequest{
		"negative size":  {PageSize: -1},
		"other category": {PageToken: first.GetNextPageToken(), Category: catalogv1.Category_CATEGORY_TOYS},
		"garbage token":  {PageToken: "AAAA"},
	} {
		_, err := c.ListProducts(context.Background(), req)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: error %v, want InvalidArgument", name, err)
		}
	}
}

func TestBatchGetProducts(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	resp, err := c.BatchGetProducts(context.Background(), &catalogv1.BatchGetProductsRequest{Ids: []string{"p12", "nope", "p1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(resp.GetProducts()); !slices.Equal(got, []string{"p12", "p1"}) {
		t.Errorf("ids %v, want [p12 p1]", got)
	}
	_, err = c.BatchGetProducts(context.Background(), &catalogv1.BatchGetProductsRequest{Ids: make([]string, catalog.MaxBatch+1)})
	wantCode(t, err, codes.InvalidArgument)
}

func TestWatchInventory(t *testing.T) {
	t.Parallel()
	c, srv := start(t)
	base := stockOf(t, c, "p1")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.WatchInventory(ctx, &catalogv1.WatchInventoryRequest{Id: "p1", Interval: durationpb.New(10 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	// The stock drifts by the units reserved in baskets: 0, 1, 2, 3, 2, 1, 0, ...
	for i, drift := range []int64{0, 1, 2, 3, 2, 1, 0} {
		u, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if u.GetProductId() != "p1" || u.GetSequence() != int64(i+1) || u.GetStock() != base-drift || u.GetAt() == nil {
			t.Errorf("update %d = %v, want sequence %d, stock %d", i, u, i+1, base-drift)
		}
	}
	cancel()
	for {
		if _, err = stream.Recv(); err != nil {
			break
		}
	}
	wantCode(t, err, codes.Canceled)

	// The handler has returned: a graceful stop, which waits for every call, completes.
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("WatchInventory still running 5s after the client cancelled")
	}
}

func TestWatchInventoryInterval(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	recv := func(ctx context.Context, interval *durationpb.Duration, n int) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := c.WatchInventory(ctx, &catalogv1.WatchInventoryRequest{Id: "p2", Interval: interval})
		if err != nil {
			return err
		}
		for range n {
			if _, err := stream.Recv(); err != nil {
				return err
			}
		}
		return nil
	}

	// A 1ns interval is raised to 10ms: six updates take at least five intervals.
	begin := time.Now()
	if err := recv(context.Background(), durationpb.New(time.Nanosecond), 6); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took < 5*catalog.MinWatchInterval {
		t.Errorf("six updates at 1ns took %v, want at least %v", took, 5*catalog.MinWatchInterval)
	}

	// An hour is cut to the 500ms maximum: two updates arrive well within 5s.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := recv(ctx, durationpb.New(time.Hour), 2); err != nil {
		t.Errorf("two updates at a 1h interval: %v", err)
	}

	// Without an interval the first update still comes at once.
	if err := recv(ctx, nil, 1); err != nil {
		t.Errorf("first update without interval: %v", err)
	}

	for _, tc := range []struct {
		req  *catalogv1.WatchInventoryRequest
		code codes.Code
	}{
		{&catalogv1.WatchInventoryRequest{Id: "p99"}, codes.NotFound},
		{&catalogv1.WatchInventoryRequest{}, codes.InvalidArgument},
		{&catalogv1.WatchInventoryRequest{Id: "p1", Interval: durationpb.New(-time.Second)}, codes.InvalidArgument},
		{&catalogv1.WatchInventoryRequest{Id: "p1", Interval: &durationpb.Duration{Seconds: 1, Nanos: -1}}, codes.InvalidArgument},
	} {
		stream, err := c.WatchInventory(context.Background(), tc.req)
		if err == nil {
			_, err = stream.Recv()
		}
		wantCode(t, err, tc.code)
	}
}

func TestAdjustInventory(t *testing.T) {
	t.Parallel()
	c, _ := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p1, p3 := stockOf(t, c, "p1"), stockOf(t, c, "p3")

	stream, err := c.AdjustInventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, step := range []struct {
		id    string
		delta int64
		want  int64
	}{
		{"p1", 5, p1 + 5},
		{"p3", -p3, 0},
		{"p1", -10, p1 - 5},
		{"p3", 0, 0},
	} {
		if err := stream.Send(&catalogv1.AdjustInventoryRequest{ProductId: step.id, Delta: step.delta}); err != nil {
			t.Fatal(err)
		}
		u, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if u.GetProductId() != step.id || u.GetStock() != step.want || u.GetSequence() != int64(i+1) {
			t.Errorf("step %d: %v, want %s at %d, sequence %d", i, u, step.id, step.want, i+1)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("after CloseSend: %v, want EOF", err)
	}
	if got := stockOf(t, c, "p1"); got != p1-5 {
		t.Errorf("p1 stock %d after adjusting, want %d", got, p1-5)
	}

	// A watch reports adjusted stock.
	w, err := c.WatchInventory(ctx, &catalogv1.WatchInventoryRequest{Id: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := w.Recv(); err != nil || u.GetStock() != p1-5 {
		t.Errorf("watch after adjusting: %v, %v; want stock %d", u, err, p1-5)
	}

	// Below zero: FailedPrecondition ends the stream, and the stock is unchanged.
	stream, err = c.AdjustInventory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&catalogv1.AdjustInventoryRequest{ProductId: "p1", Delta: -1000}); err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	st := wantCode(t, err, codes.FailedPrecondition)
	var pf *errdetails.PreconditionFailure
	for _, d := range st.Details() {
		pf, _ = d.(*errdetails.PreconditionFailure)
	}
	if v := pf.GetViolations(); len(v) != 1 || v[0].GetSubject() != "products/p1" {
		t.Errorf("details %v", st.Details())
	}
	if got := stockOf(t, c, "p1"); got != p1-5 {
		t.Errorf("p1 stock %d after a refused change, want %d", got, p1-5)
	}

	for _, tc := range []struct {
		req  *catalogv1.AdjustInventoryRequest
		code codes.Code
	}{
		{&catalogv1.AdjustInventoryRequest{ProductId: "p99", Delta: 1}, codes.NotFound},
		{&catalogv1.AdjustInventoryRequest{Delta: 1}, codes.InvalidArgument},
		{&catalogv1.AdjustInventoryRequest{ProductId: "p1", Delta: 1<<63 - 1}, codes.InvalidArgument},
	} {
		stream, err := c.AdjustInventory(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A good change first: the bad one ends a stream that was working.
		if err := stream.Send(&catalogv1.AdjustInventoryRequest{ProductId: "p2", Delta: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(tc.req); err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		wantCode(t, err, tc.code)
	}
}
