package orders

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/protogate/gateway/examples/shop/internal/page"
	"github.com/protogate/gateway/examples/shop/internal/rpcerr"
	commonv1 "github.com/protogate/gateway/gen/shop/common/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
)

const (
	// MaxItems is the most line items one order may have.
	MaxItems = 100
	// MaxQuantity is the most units of one product a line item may order.
	MaxQuantity = 1000
	// DeliveryEstimate is the delivery estimate of orders placed with CreateOrder.
	DeliveryEstimate = 72 * time.Hour
)

var orderType = (*ordersv1.Order)(nil).ProtoReflect().Descriptor()

// Option configures a Server.
type Option func(*Server)

// WithClock sets the clock that stamps created_at on new orders (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// Server implements ordersv1.OrderServiceServer. It is safe for concurrent use.
type Server struct {
	ordersv1.UnimplementedOrderServiceServer

	now func() time.Time

	mu     sync.RWMutex
	byID   map[string]*ordersv1.Order   // stored orders are never modified; changes store a new message
	byUser map[string][]*ordersv1.Order // each user's orders, newest first (see compareNewestFirst)
	nextID int                          // the number in the next id CreateOrder tries
}

// New returns a Server holding the seed orders.
func New(opts ...Option) *Server {
	s := &Server{
		now:    time.Now,
		byID:   make(map[string]*ordersv1.Order),
		byUser: make(map[string][]*ordersv1.Order),
	}
	for _, o := range opts {
		o(s)
	}
	for _, o := range seed() {
		s.put(o)
	}
	s.nextID = len(s.byID) + 1
	return s
}

// compareNewestFirst orders orders by creation time, newest first, then by id, highest first.
func compareNewestFirst(a, b *ordersv1.Order) int {
	if c := b.GetCreatedAt().AsTime().Compare(a.GetCreatedAt().AsTime()); c != 0 {
		return c
	}
	return page.CompareIDs(b.GetId(), a.GetId())
}

// put stores o, replacing the order with o's id if there is one. An order's user and creation
// time never change. Callers hold mu (or own s).
func (s *Server) put(o *ordersv1.Order) {
	list := s.byUser[o.GetUserId()]
	i, found := slices.BinarySearchFunc(list, o, compareNewestFirst)
	if found {
		list[i] = o
	} else {
		s.byUser[o.GetUserId()] = slices.Insert(list, i, o)
	}
	s.byID[o.GetId()] = o
}

// newID returns an unused id. Callers hold mu.
func (s *Server) newID() string {
	for {
		id := fmt.Sprintf("o%d", s.nextID)
		s.nextID++
		if s.byID[id] == nil {
			return id
		}
	}
}

func notFound(id string) error {
	return rpcerr.NotFound("order", orderType.FullName(), id)
}

// GetOrder returns one order by id.
func (s *Server) GetOrder(_ context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.Order, error) {
	if req.GetId() == "" {
		return nil, rpcerr.BadRequest(rpcerr.Violation("id", "must not be empty"))
	}
	s.mu.RLock()
	o := s.byID[req.GetId()]
	s.mu.RUnlock()
	if o == nil {
		return nil, notFound(req.GetId())
	}
	return o, nil
}

// ListOrders returns a user's orders, newest first, optionally only those with one status. A user
// without orders, known to the user service or not, has an empty list.
func (s *Server) ListOrders(_ context.Context, req *ordersv1.ListOrdersRequest) (*ordersv1.ListOrdersResponse, error) {
	var v []*errdetails.BadRequest_FieldViolation
	if req.GetUserId() == "" {
		v = append(v, rpcerr.Violation("user_id", "must not be empty"))
	}
	size, err := page.Size(req.GetPageSize())
	if err != nil {
		v = append(v, rpcerr.Violation("page_size", err.Error()))
	}
	query := fmt.Sprintf("orders?user_id=%s&status=%d", req.GetUserId(), req.GetStatus())
	cursor, err := page.DecodeToken(req.GetPageToken(), query)
	var after *ordersv1.Order
	if err == nil && cursor != "" {
		after, err = parseCursor(cursor)
	}
	if err != nil {
		v = append(v, rpcerr.Violation("page_token", err.Error()))
	}
	if len(v) > 0 {
		return nil, rpcerr.BadRequest(v...)
	}

	resp := &ordersv1.ListOrdersResponse{Orders: make([]*ordersv1.Order, 0, size)}
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := s.byUser[req.GetUserId()]
	if after != nil {
		i, found := slices.BinarySearchFunc(list, after, compareNewestFirst)
		if found {
			i++
		}
		list = list[i:]
	}
	for _, o := range list {
		if req.GetStatus() != ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED && o.GetStatus() != req.GetStatus() {
			continue
		}
		if len(resp.Orders) == size {
			resp.NextPageToken = page.EncodeToken(query, formatCursor(resp.Orders[size-1]))
			break
		}
		resp.Orders = append(resp.Orders, o)
	}
	return resp, nil
}

// formatCursor names the position of o in a listing: its creation time and id.
func formatCursor(o *ordersv1.Order) string {
	return o.GetCreatedAt().AsTime().Format(time.RFC3339Nano) + " " + o.GetId()
}

// parseCursor returns an order carrying just the creation time and id of a cursor.
func parseCursor(cursor string) (*ordersv1.Order, error) {
	at, id, ok := strings.Cut(cursor, " ")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil {
		return nil, page.ErrInvalidToken
	}
	return &ordersv1.Order{Id: id, CreatedAt: timestamppb.New(t)}, nil
}

// CreateOrder places an order with the next free id, unit prices from the price list (prices in
// the request are ignored) and the total computed from them. An order with a payment method is
// PAID, one without PENDING.
func (s *Server) CreateOrder(_ context.Context, req *ordersv1.CreateOrderRequest) (*ordersv1.Order, error) {
	var v []*errdetails.BadRequest_FieldViolation
	if req.GetUserId() == "" {
		v = append(v, rpcerr.Violation("user_id", "must not be empty"))
	}
	switch n := len(req.GetItems()); {
	case n == 0:
		v = append(v, rpcerr.Violation("items", "at least one line item is required"))
	case n > MaxItems:
		v = append(v, rpcerr.Violation("items", fmt.Sprintf("at most %d line items, got %d", MaxItems, n)))
	}
	o := &ordersv1.Order{
		UserId:           req.GetUserId(),
		Items:            make([]*ordersv1.LineItem, 0, len(req.GetItems())),
		Status:           ordersv1.OrderStatus_ORDER_STATUS_PENDING,
		DeliveryEstimate: durationpb.New(DeliveryEstimate),
		GiftMessage:      proto.CloneOf(req.GetGiftMessage()),
		Notes:            maps.Clone(req.GetNotes()),
	}
	for i, in := range req.GetItems() {
		field := fmt.Sprintf("items[%d]", i)
		price, known := unitPrice(in.GetProductId())
		switch {
		case in.GetProductId() == "":
			v = append(v, rpcerr.Violation(field+".product_id", "must not be empty"))
		case !known:
			v = append(v, rpcerr.Violation(field+".product_id", fmt.Sprintf("unknown product %q", in.GetProductId())))
		}
		if q := in.GetQuantity(); q < 1 || q > MaxQuantity {
			v = append(v, rpcerr.Violation(field+".quantity", fmt.Sprintf("must be from 1 to %d, got %d", MaxQuantity, q)))
		}
		o.Items = append(o.Items, &ordersv1.LineItem{ProductId: in.GetProductId(), Quantity: in.GetQuantity(), UnitPrice: price})
	}
	switch p := req.GetPayment().(type) {
	case *ordersv1.CreateOrderRequest_Card:
		v = append(v, checkCard(p.Card)...)
		o.Payment = &ordersv1.Order_Card{Card: proto.CloneOf(p.Card)}
	case *ordersv1.CreateOrderRequest_VoucherCode:
		if strings.TrimSpace(p.VoucherCode) == "" {
			v = append(v, rpcerr.Violation("voucher_code", "must not be empty when set"))
		}
		o.Payment = &ordersv1.Order_VoucherCode{VoucherCode: p.VoucherCode}
	}
	if len(v) > 0 {
		return nil, rpcerr.BadRequest(v...)
	}
	if o.Payment != nil {
		o.Status = ordersv1.OrderStatus_ORDER_STATUS_PAID
	}
	total, err := sum(o.Items)
	if err != nil { // unreachable with list prices and bounded quantities, but cheap to check
		return nil, rpcerr.BadRequest(rpcerr.Violation("items", err.Error()))
	}
	o.Total = total

	s.mu.Lock()
	defer s.mu.Unlock()
	o.Id = s.newID()
	o.CreatedAt = timestamppb.New(s.now())
	s.put(o)
	return o, nil
}

func checkCard(c *ordersv1.Card) []*errdetails.BadRequest_FieldViolation {
	var v []*errdetails.BadRequest_FieldViolation
	if c.GetBrand() == "" {
		v = append(v, rpcerr.Violation("card.brand", "must not be empty"))
	}
	if len(c.GetLast4()) != 4 || strings.Trim(c.GetLast4(), "0123456789") != "" {
		v = append(v, rpcerr.Violation("card.last4", "must be four digits"))
	}
	if m := c.GetExpMonth(); m < 1 || m > 12 {
		v = append(v, rpcerr.Violation("card.exp_month", fmt.Sprintf("must be from 1 to 12, got %d", m)))
	}
	if y := c.GetExpYear(); y < 2000 || y > 2100 {
		v = append(v, rpcerr.Violation("card.exp_year", fmt.Sprintf("must be a four-digit year, got %d", y)))
	}
	return v
}

// sum returns the total of items: quantity times unit price, added up. All unit prices must be in
// the same currency.
func sum(items []*ordersv1.LineItem) (*commonv1.Money, error) {
	total := &commonv1.Money{CurrencyCode: items[0].GetUnitPrice().GetCurrencyCode()}
	for _, it := range items {
		line, err := times(it.GetUnitPrice(), int64(it.GetQuantity()))
		if err == nil {
			total, err = plus(total, line)
		}
		if err != nil {
			return nil, err
		}
	}
	return total, nil
}

// CancelOrder cancels an order that has not shipped yet, recording the reason in the order's notes
// under "cancel_reason". Cancelling a cancelled order returns it unchanged.
func (s *Server) CancelOrder(_ context.Context, req *ordersv1.CancelOrderRequest) (*ordersv1.Order, error) {
	if req.GetId() == "" {
		return nil, rpcerr.BadRequest(rpcerr.Violation("id", "must not be empty"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.byID[req.GetId()]
	if cur == nil {
		return nil, notFound(req.GetId())
	}
	switch cur.GetStatus() {
	case ordersv1.OrderStatus_ORDER_STATUS_CANCELLED:
		return cur, nil
	case ordersv1.OrderStatus_ORDER_STATUS_SHIPPED, ordersv1.OrderStatus_ORDER_STATUS_DELIVERED:
		return nil, rpcerr.FailedPrecondition("ORDER_STATUS", "orders/"+cur.GetId(),
			fmt.Sprintf("order %q is %s and can no longer be cancelled", cur.GetId(), statusWord(cur.GetStatus())))
	}
	o := proto.CloneOf(cur)
	o.Status = ordersv1.OrderStatus_ORDER_STATUS_CANCELLED
	if req.GetReason() != "" {
		if o.Notes == nil {
			o.Notes = make(map[string]string, 1)
		}
		o.Notes["cancel_reason"] = req.GetReason()
	}
	s.put(o)
	return o, nil
}

// statusWord returns "shipped" for ORDER_STATUS_SHIPPED, and so on.
func statusWord(st ordersv1.OrderStatus) string {
	return strings.ToLower(strings.TrimPrefix(st.String(), "ORDER_STATUS_"))
}
