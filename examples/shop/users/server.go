package users

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/protogate/gateway/examples/shop/internal/fieldmask"
	"github.com/protogate/gateway/examples/shop/internal/page"
	"github.com/protogate/gateway/examples/shop/internal/rpcerr"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// MaxBatch is the most ids BatchGetUsers takes in one call.
const MaxBatch = 1000

var userType = (*usersv1.User)(nil).ProtoReflect().Descriptor()

// Option configures a Server.
type Option func(*Server)

// WithClock sets the clock that stamps created_at on new users (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// Server implements usersv1.UserServiceServer. It is safe for concurrent use.
type Server struct {
	usersv1.UnimplementedUserServiceServer

	now func() time.Time

	mu     sync.RWMutex
	byID   map[string]*usersv1.User // stored users are never modified; updates store a new message
	ids    []string                 // every id, in page.CompareIDs order
	emails map[string]string        // lower-cased email -> id of its user
	nextID int                      // the number of the next id CreateUser assigns
}

// New returns a Server holding the seed users.
func New(opts ...Option) *Server {
	s := &Server{
		now:    time.Now,
		byID:   make(map[string]*usersv1.User),
		emails: make(map[string]string),
	}
	for _, o := range opts {
		o(s)
	}
	for _, u := range seed() {
		s.put(u)
	}
	s.nextID = len(s.ids) + 1
	return s
}

// put stores u, replacing the user with u's id if there is one. Callers hold mu (or own s).
func (s *Server) put(u *usersv1.User) {
	if old, ok := s.byID[u.GetId()]; ok {
		delete(s.emails, strings.ToLower(old.GetEmail()))
	} else {
		i, _ := slices.BinarySearchFunc(s.ids, u.GetId(), page.CompareIDs)
		s.ids = slices.Insert(s.ids, i, u.GetId())
	}
	s.byID[u.GetId()] = u
	s.emails[strings.ToLower(u.GetEmail())] = u.GetId()
}

func notFound(id string) error {
	return rpcerr.NotFound("user", userType.FullName(), id)
}

// GetUser returns one user by id.
func (s *Server) GetUser(_ context.Context, req *usersv1.GetUserRequest) (*usersv1.User, error) {
	if req.GetId() == "" {
		return nil, rpcerr.BadRequest(rpcerr.Violation("id", "must not be empty"))
	}
	s.mu.RLock()
	u := s.byID[req.GetId()]
	s.mu.RUnlock()
	if u == nil {
		return nil, notFound(req.GetId())
	}
	return u, nil
}

// ListUsers pages through users in id order, optionally filtered by role and country (ISO code,
// any case).
func (s *Server) ListUsers(_ context.Context, req *usersv1.ListUsersRequest) (*usersv1.ListUsersResponse, error) {
	size, err := page.Size(req.GetPageSize())
	if err != nil {
		return nil, rpcerr.BadRequest(rpcerr.Violation("page_size", err.Error()))
	}
	role, country := req.GetFilter().GetRole(), strings.ToUpper(req.GetFilter().GetCountry())
	query := fmt.Sprintf("users?role=%d&country=%s", role, country)
	after, err := page.DecodeToken(req.GetPageToken(), query)
	if err != nil {
		return nil, rpcerr.BadRequest(rpcerr.Violation("page_token", err.Error()))
	}

	resp := &usersv1.ListUsersResponse{Users: make([]*usersv1.User, 0, size)}
	more := false
	s.mu.RLock()
	for _, id := range s.ids {
		u := s.byID[id]
		if (role != usersv1.Role_ROLE_UNSPECIFIED && u.GetRole() != role) ||
			(country != "" && !strings.EqualFold(u.GetAddress().GetCountry(), country)) {
			continue
		}
		resp.TotalSize++
		switch {
		case after != "" && page.CompareIDs(id, after) <= 0:
		case len(resp.Users) < size:
			resp.Users = append(resp.Users, u)
		default:
			more = true
		}
	}
	s.mu.RUnlock()
	if more {
		resp.NextPageToken = page.EncodeToken(query, resp.Users[len(resp.Users)-1].GetId())
	}
	return resp, nil
}

// CreateUser stores a new user with the next free id and created_at set to now. The id and
// created_at of the request are ignored (they are output only); an unspecified role becomes
// ROLE_CUSTOMER.
func (s *Server) CreateUser(_ context.Context, req *usersv1.CreateUserRequest) (*usersv1.User, error) {
	if req.GetUser() == nil {
		return nil, rpcerr.BadRequest(rpcerr.Violation("user", "must be set"))
	}
	u := proto.CloneOf(req.GetUser())
	if u.Role == usersv1.Role_ROLE_UNSPECIFIED {
		u.Role = usersv1.Role_ROLE_CUSTOMER
	}
	if v := validate(u); len(v) > 0 {
		return nil, rpcerr.BadRequest(v...)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkEmailFree(u.GetEmail(), ""); err != nil {
		return nil, err
	}
	for s.byID[strconv.Itoa(s.nextID)] != nil {
		s.nextID++
	}
	u.Id = strconv.Itoa(s.nextID)
	s.nextID++
	u.CreatedAt = timestamppb.New(s.now())
	s.put(u)
	return u, nil
}

// UpdateUser changes the fields named by update_mask, clearing those the request leaves unset. An
// empty mask names every field set in the request; "*" names every field. Paths naming the output
// only fields id and created_at are ignored.
func (s *Server) UpdateUser(_ context.Context, req *usersv1.UpdateUserRequest) (*usersv1.User, error) {
	in := req.GetUser()
	switch {
	case in == nil:
		return nil, rpcerr.BadRequest(rpcerr.Violation("user", "must be set"))
	case in.GetId() == "":
		return nil, rpcerr.BadRequest(rpcerr.Violation("user.id", "must not be empty"))
	}
	paths := updatePaths(in, req.GetUpdateMask().GetPaths())
	if err := fieldmask.Validate(userType, paths); err != nil {
		return nil, rpcerr.BadRequest(rpcerr.Violation("update_mask", err.Error()))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.byID[in.GetId()]
	if cur == nil {
		return nil, notFound(in.GetId())
	}
	u := proto.CloneOf(cur)
	if err := fieldmask.Merge(u.ProtoReflect(), in.ProtoReflect(), paths); err != nil {
		return nil, rpcerr.BadRequest(rpcerr.Violation("update_mask", err.Error()))
	}
	if v := validate(u); len(v) > 0 {
		return nil, rpcerr.BadRequest(v...)
	}
	if err := s.checkEmailFree(u.GetEmail(), u.GetId()); err != nil {
		return nil, err
	}
	s.put(u)
	return u, nil
}

// updatePaths returns the field paths an update changes: those named in mask, or every field set in
// in when mask is empty, or every field when mask holds "*"; never id or created_at.
func updatePaths(in *usersv1.User, mask []string) []string {
	var paths []string
	switch {
	case slices.Contains(mask, "*"):
		fields := userType.Fields()
		for i := range fields.Len() {
			paths = append(paths, string(fields.Get(i).Name()))
		}
	case len(mask) == 0:
		in.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			paths = append(paths, string(fd.Name()))
			return true
		})
	default:
		paths = slices.Clone(mask)
	}
	return slices.DeleteFunc(paths, func(p string) bool {
		top, _, _ := strings.Cut(p, ".")
		return top == "id" || top == "created_at"
	})
}

// validate returns what is wrong with u as a stored user.
func validate(u *usersv1.User) []*errdetails.BadRequest_FieldViolation {
	var v []*errdetails.BadRequest_FieldViolation
	if strings.TrimSpace(u.GetName()) == "" {
		v = append(v, rpcerr.Violation("user.name", "must not be empty"))
	}
	switch local, domain, ok := strings.Cut(u.GetEmail(), "@"); {
	case strings.TrimSpace(u.GetEmail()) == "":
		v = append(v, rpcerr.Violation("user.email", "must not be empty"))
	case !ok || local == "" || domain == "" || strings.ContainsAny(u.GetEmail(), " \t\r\n"):
		v = append(v, rpcerr.Violation("user.email", fmt.Sprintf("%q is not an email address", u.GetEmail())))
	}
	if _, ok := usersv1.Role_name[int32(u.GetRole())]; !ok {
		v = append(v, rpcerr.Violation("user.role", fmt.Sprintf("unknown role %d", u.GetRole())))
	}
	return v
}

// checkEmailFree reports AlreadyExists if another user than self has email. Callers hold mu.
func (s *Server) checkEmailFree(email, self string) error {
	if owner, ok := s.emails[strings.ToLower(email)]; ok && owner != self {
		return rpcerr.AlreadyExists(userType.FullName(), owner,
			fmt.Sprintf("email %q is already used by user %q", email, owner))
	}
	return nil
}

// BatchGetUsers returns the users with the given ids in the order asked, skipping unknown ids.
func (s *Server) BatchGetUsers(_ context.Context, req *usersv1.BatchGetUsersRequest) (*usersv1.BatchGetUsersResponse, error) {
	if n := len(req.GetIds()); n > MaxBatch {
		return nil, rpcerr.BadRequest(rpcerr.Violation("ids", fmt.Sprintf("at most %d ids, got %d", MaxBatch, n)))
	}
	resp := &usersv1.BatchGetUsersResponse{Users: make([]*usersv1.User, 0, len(req.GetIds()))}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, id := range req.GetIds() {
		if u := s.byID[id]; u != nil {
			resp.Users = append(resp.Users, u)
		}
	}
	return resp, nil
}
