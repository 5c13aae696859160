package orders

import (
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
)

// ImportOrders stores the orders of a client stream as they arrive and answers once the client
// has sent them all. Each order needs a user_id and at least one line item, and must not reuse an
// existing id; refused orders are listed in rejected under their id, or "#n" for the n-th message
// (from 1) when it has none. An order without an id gets the next free one, without a status
// ORDER_STATUS_PENDING, without created_at the time of import. Line items keep their unit price, or
// get the list price when they have none; the total is always computed from them.
func (s *Server) ImportOrders(stream grpc.ClientStreamingServer[ordersv1.ImportOrdersRequest, ordersv1.ImportOrdersResponse]) error {
	resp := &ordersv1.ImportOrdersResponse{Rejected: make(map[string]string)}
	for n := 1; ; n++ {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(resp)
		}
		if err != nil {
			return err
		}
		key := fmt.Sprintf("#%d", n)
		if id := req.GetOrder().GetId(); id != "" {
			key = id
		}
		if err := s.importOrder(req.GetOrder()); err != nil {
			resp.Rejected[key] = err.Error()
			continue
		}
		resp.Imported++
	}
}

// importOrder checks in and stores a copy of it, or says why it cannot.
func (s *Server) importOrder(in *ordersv1.Order) error {
	switch {
	case in == nil:
		return errors.New("order is missing")
	case in.GetUserId() == "":
		return errors.New("user_id is required")
	case len(in.GetItems()) == 0:
		return errors.New("at least one line item is required")
	case len(in.GetItems()) > MaxItems:
		return fmt.Errorf("at most %d line items, got %d", MaxItems, len(in.GetItems()))
	}
	if _, ok := ordersv1.OrderStatus_name[int32(in.GetStatus())]; !ok {
		return fmt.Errorf("unknown status %d", in.GetStatus())
	}
	if in.CreatedAt != nil {
		if err := in.GetCreatedAt().CheckValid(); err != nil {
			return fmt.Errorf("created_at: %w", err)
		}
	}
	o := proto.CloneOf(in)
	for i, it := range o.Items {
		if it.GetProductId() == "" {
			return fmt.Errorf("items[%d].product_id is required", i)
		}
		if it.GetQuantity() < 1 {
			return fmt.Errorf("items[%d].quantity must be at least 1, got %d", i, it.GetQuantity())
		}
		if it.UnitPrice == nil {
			price, ok := unitPrice(it.GetProductId())
			if !ok {
				return fmt.Errorf("items[%d] has no unit_price and %q is not on the price list", i, it.GetProductId())
			}
			it.UnitPrice = price
		}
		if err := checkMoney(it.GetUnitPrice()); err != nil {
			return fmt.Errorf("items[%d].unit_price: %w", i, err)
		}
	}
	total, err := sum(o.Items)
	if err != nil {
		return fmt.Errorf("total: %w", err)
	}
	o.Total = total
	if o.Status == ordersv1.OrderStatus_ORDER_STATUS_UNSPECIFIED {
		o.Status = ordersv1.OrderStatus_ORDER_STATUS_PENDING
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if o.Id == "" {
		o.Id = s.newID()
	} else if s.byID[o.Id] != nil {
		return fmt.Errorf("duplicate id: order %q already exists", o.Id)
	}
	if o.CreatedAt == nil {
		o.CreatedAt = timestamppb.New(s.now())
	}
	s.put(o)
	return nil
}
