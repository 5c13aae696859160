package catalog

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/protogate/gateway/examples/shop/internal/fieldmask"
	"github.com/protogate/gateway/examples/shop/internal/page"
	"github.com/protogate/gateway/examples/shop/internal/rpcerr"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
)

// MaxBatch is the most ids BatchGetProducts takes in one call.
const MaxBatch = 1000

var productType = (*catalogv1.Product)(nil).ProtoReflect().Descriptor()

// Option configures a Server.
type Option func(*Server)

// WithClock sets the clock that stamps inventory updates and stock changes (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// Server implements catalogv1.CatalogServiceServer. It is safe for concurrent use.
type Server struct {
	catalogv1.UnimplementedCatalogServiceServer

	now func() time.Time

	mu   sync.RWMutex
	byID map[string]*catalogv1.Product // stored products are never modified; changes store a new message
	ids  []string                      // every id, in page.CompareIDs order
}

// New returns a Server holding the seed products.
func New(opts ...Option) *Server {
	s := &Server{now: time.Now, byID: make(map[string]*catalogv1.Product)}
	for _, o := range opts {
		o(s)
	}
	for _, p := range seed() {
		s.byID[p.GetId()] = p
		s.ids = append(s.ids, p.GetId())
	}
	slices.SortFunc(s.ids, page.CompareIDs)
	return s
}

func notFound(id string) error {
	return rpcerr.NotFound("product", productType.FullName(), id)
}

// product returns the stored product id, or nil.
func (s *Server) product(id string) *catalogv1.Product {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byID[id]
}

// GetProduct returns one product by id. With a read_mask, only the fields it names are set.
func (s *Server) GetProduct(_ context.Context, req *catalogv1.GetProductRequest) (*catalogv1.Product, error) {
	if req.GetId() == "" {
		return nil, rpcerr.BadRequest(rpcerr.Violation("id", "must not be empty"))
	}
	paths := req.GetReadMask().GetPaths()
	if err := fieldmask.Validate(productType, paths); err != nil {
		return nil, rpcerr.BadRequest(rpcerr.Violation("read_mask", err.Error()))
	}
	p := s.product(req.GetId())
	if p == nil {
		return nil, notFound(req.GetId())
	}
	if len(paths) == 0 {
		return p, nil
	}
	m, err := fieldmask.Project(p.ProtoReflect(), paths)
	if err != nil { // validated above
		return nil, rpcerr.BadRequest(rpcerr.Violation("read_mask", err.Error()))
	}
	return m.Interface().(*catalogv1.Product), nil
}

// ListProducts pages through the catalog in id order, optionally only one category.
func (s *Server) ListProducts(_ context.Context, req *catalogv1.ListProductsRequest) (*catalogv1.ListProductsResponse, error) {
	size, err := page.Size(req.GetPageSize())
	if err != nil {
		return nil, rpcerr.BadRequest(rpcerr.Violation("page_size", err.Error()))
	}
	query := fmt.Sprintf("products?category=%d", req.GetCategory())
	after, err := page.DecodeToken(req.GetPageToken(), query)
	if err != nil {
		return nil, rpcerr.BadRequest(rpcerr.Violation("page_token", err.Error()))
	}

	resp := &catalogv1.ListProductsResponse{Products: make([]*catalogv1.Product, 0, size)}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, id := range s.ids {
		p := s.byID[id]
		if req.GetCategory() != catalogv1.Category_CATEGORY_UNSPECIFIED && p.GetCategory() != req.GetCategory() {
			continue
		}
		if after != "" && page.CompareIDs(id, after) <= 0 {
			continue
		}
		if len(resp.Products) == size {
			resp.NextPageToken = page.EncodeToken(query, resp.Products[size-1].GetId())
			break
		}
		resp.Products = append(resp.Products, p)
	}
	return resp, nil
}

// BatchGetProducts returns the products with the given ids in the order asked, skipping unknown
// ids.
func (s *Server) BatchGetProducts(_ context.Context, req *catalogv1.BatchGetProductsRequest) (*catalogv1.BatchGetProductsResponse, error) {
	if n := len(req.GetIds()); n > MaxBatch {
		return nil, rpcerr.BadRequest(rpcerr.Violation("ids", fmt.Sprintf("at most %d ids, got %d", MaxBatch, n)))
	}
	resp := &catalogv1.BatchGetProductsResponse{Products: make([]*catalogv1.Product, 0, len(req.GetIds()))}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, id := range req.GetIds() {
		if p := s.byID[id]; p != nil {
			resp.Products = append(resp.Products, p)
		}
	}
	return resp, nil
}
