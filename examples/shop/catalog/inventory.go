package catalog

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/protogate/gateway/examples/shop/internal/rpcerr"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
)

const (
	// DefaultWatchInterval is the time between WatchInventory updates when the request sets none,
	// and the longest interval served.
	DefaultWatchInterval = 500 * time.Millisecond
	// MinWatchInterval is the shortest interval served; shorter ones are raised to it.
	MinWatchInterval = 10 * time.Millisecond
)

// watchInterval returns the interval to serve for a requested one: the default when unset or zero,
// otherwise clamped to [MinWatchInterval, DefaultWatchInterval]. Negative or malformed durations
// are refused.
func watchInterval(d *durationpb.Duration) (time.Duration, error) {
	if d == nil {
		return DefaultWatchInterval, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, err
	}
	switch v := d.AsDuration(); {
	case v < 0:
		return 0, fmt.Errorf("must not be negative, got %v", v)
	case v == 0:
		return DefaultWatchInterval, nil
	default:
		return min(max(v, MinWatchInterval), DefaultWatchInterval), nil
	}
}

// reserved is how many units are held in shoppers' baskets at the seq-th update of a watch: a
// deterministic drift 0, 1, 2, 3, 2, 1, 0, 1, ... that makes the stream show movement.
func reserved(seq int64) int64 {
	r := (seq - 1) % 6
	if r > 3 {
		r = 6 - r
	}
	return r
}

// WatchInventory sends the stock of one product at once and then every interval until the client
// cancels. Each update reports the stored stock (which AdjustInventory changes) less the units
// reserved at that point of the stream (see reserved), never below 0.
func (s *Server) WatchInventory(req *catalogv1.WatchInventoryRequest, stream grpc.ServerStreamingServer[catalogv1.InventoryUpdate]) error {
	if req.GetId() == "" {
		return rpcerr.BadRequest(rpcerr.Violation("id", "must not be empty"))
	}
	interval, err := watchInterval(req.GetInterval())
	if err != nil {
		return rpcerr.BadRequest(rpcerr.Violation("interval", err.Error()))
	}
	if s.product(req.GetId()) == nil {
		return notFound(req.GetId())
	}

	ctx := stream.Context()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for seq := int64(1); ; seq++ {
		update := &catalogv1.InventoryUpdate{
			ProductId: req.GetId(),
			Stock:     max(0, s.product(req.GetId()).GetStock()-reserved(seq)),
			At:        timestamppb.New(s.now()),
			Sequence:  seq,
		}
		if err := stream.Send(update); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-tick.C:
		}
	}
}

// AdjustInventory applies each stock change as it arrives and answers it with the new stock. The
// stream ends at the first change it cannot apply: InvalidArgument without a product_id, NotFound
// for an unknown product, FailedPrecondition when the stock would fall below 0 (nothing is changed
// then).
func (s *Server) AdjustInventory(stream grpc.BidiStreamingServer[catalogv1.AdjustInventoryRequest, catalogv1.InventoryUpdate]) error {
	for seq := int64(1); ; seq++ {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p, err := s.adjust(req.GetProductId(), req.GetDelta())
		if err != nil {
			return err
		}
		if err := stream.Send(&catalogv1.InventoryUpdate{
			ProductId: p.GetId(),
			Stock:     p.GetStock(),
			At:        p.GetUpdatedAt(),
			Sequence:  seq,
		}); err != nil {
			return err
		}
	}
}

// adjust adds delta to the stock of product id and returns the product as stored after.
func (s *Server) adjust(id string, delta int64) (*catalogv1.Product, error) {
	if id == "" {
		return nil, rpcerr.BadRequest(rpcerr.Violation("product_id", "must not be empty"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.byID[id]
	if cur == nil {
		return nil, notFound(id)
	}
	stock := cur.GetStock()
	if delta > 0 && stock > math.MaxInt64-delta {
		return nil, rpcerr.BadRequest(rpcerr.Violation("delta", fmt.Sprintf("stock %d plus %d is out of range", stock, delta)))
	}
	if stock+delta < 0 {
		return nil, rpcerr.FailedPrecondition("STOCK", "products/"+id,
			fmt.Sprintf("product %q has %d in stock: a change of %d would leave it below 0", id, stock, delta))
	}
	p := proto.CloneOf(cur)
	p.Stock = stock + delta
	p.UpdatedAt = timestamppb.New(s.now())
	s.byID[id] = p
	return p, nil
}
