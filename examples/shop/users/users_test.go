package users_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/protogate/gateway/examples/shop/users"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
)

// start serves a fresh users.Server on a loopback port and returns a client of it.
func start(t testing.TB, opts ...users.Option) usersv1.UserServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	usersv1.RegisterUserServiceServer(srv, users.New(opts...))
	go srv.Serve(lis) //nolint:errcheck // returns when the cleanup stops the server
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return usersv1.NewUserServiceClient(conn)
}

// wantCode fails t unless err is a status error with code, and returns the status.
func wantCode(t *testing.T, err error, code codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("error = %v, want code %v", err, code)
	}
	return st
}

// violations returns the fields of the BadRequest detail of st.
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

func listAll(t *testing.T, c usersv1.UserServiceClient, req *usersv1.ListUsersRequest) []*usersv1.User {
	t.Helper()
	var out []*usersv1.User
	for {
		resp, err := c.ListUsers(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(resp.GetUsers()); n == 0 || n > int(max(req.GetPageSize(), 10)) {
			t.Fatalf("page of %d users for page_size %d", n, req.GetPageSize())
		}
		out = append(out, resp.GetUsers()...)
		if resp.GetNextPageToken() == "" {
			return out
		}
		req = proto.CloneOf(req)
		req.PageToken = resp.GetNextPageToken()
	}
}

func ids(us []*usersv1.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.GetId()
	}
	return out
}

func TestGetUserAda(t *testing.T) {
	t.Parallel()
	c := start(t)
	ada, err := c.GetUser(context.Background(), &usersv1.GetUserRequest{Id: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if ada.GetName() != "Ada Lovelace" || ada.GetEmail() != "ada@example.com" {
		t.Errorf("user 1 = %q <%s>, want Ada Lovelace <ada@example.com>", ada.GetName(), ada.GetEmail())
	}
	if ada.GetRole() != usersv1.Role_ROLE_CUSTOMER || ada.GetAddress().GetCountry() != "GB" ||
		ada.GetChatHandle() != "@ada" || ada.GetNickname().GetValue() != "Enchantress of Numbers" ||
		!slices.Contains(ada.GetTags(), "vip") || ada.GetLabels()["region"] != "eu" ||
		ada.GetPreferences().GetFields()["theme"].GetStringValue() == "" ||
		len(ada.GetAvatar()) == 0 || ada.GetCreatedAt() == nil {
		t.Errorf("user 1 lacks seed fields: %v", ada)
	}
}

func TestGetUserErrors(t *testing.T) {
	t.Parallel()
	c := start(t)

	_, err := c.GetUser(context.Background(), &usersv1.GetUserRequest{Id: "99"})
	st := wantCode(t, err, codes.NotFound)
	if st.Message() != `user "99" not found` {
		t.Errorf("message = %q", st.Message())
	}
	var info *errdetails.ResourceInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.ResourceInfo); ok {
			info = ri
		}
	}
	if info.GetResourceType() != "shop.users.v1.User" || info.GetResourceName() != "99" {
		t.Errorf("ResourceInfo = %v", info)
	}

	_, err = c.GetUser(context.Background(), &usersv1.GetUserRequest{})
	st = wantCode(t, err, codes.InvalidArgument)
	if got := violations(t, st); !slices.Equal(got, []string{"id"}) {
		t.Errorf("violations = %q, want [id]", got)
	}
}

// TestSeed checks the seed users use every field of User in more than one way.
func TestSeed(t *testing.T) {
	t.Parallel()
	c := start(t)
	all := listAll(t, c, &usersv1.ListUsersRequest{PageSize: 100})
	if len(all) != users.SeedCount || users.SeedCount < 20 {
		t.Fatalf("%d seed users, want %d (at least 20)", len(all), users.SeedCount)
	}
	emails := map[string]bool{}
	var phones, chats, noContact, nick, noNick, avatars, bigPoints int
	roles := map[usersv1.Role]int{}
	for i, u := range all {
		if want := fmt.Sprint(i + 1); u.GetId() != want {
			t.Errorf("user %d has id %q, want %q", i, u.GetId(), want)
		}
		first := strings.ToLower(strings.Fields(u.GetName())[0])
		if !strings.HasSuffix(u.GetEmail(), "@example.com") || emails[u.GetEmail()] ||
			!strings.HasPrefix(strings.ReplaceAll(first, "é", "e"), strings.TrimSuffix(u.GetEmail(), "@example.com")) {
			t.Errorf("user %s: email %q is not first@example.com or not unique", u.GetId(), u.GetEmail())
		}
		emails[u.GetEmail()] = true
		if u.GetAddress().GetCountry() == "" || len(u.GetLabels()) == 0 || u.GetPreferences() == nil || u.GetCreatedAt() == nil {
			t.Errorf("user %s lacks address, labels, preferences or created_at", u.GetId())
		}
		switch u.GetContact().(type) {
		case *usersv1.User_Phone:
			phones++
		case *usersv1.User_ChatHandle:
			chats++
		default:
			noContact++
		}
		if u.GetNickname() != nil {
			nick++
		} else {
			noNick++
		}
		if len(u.GetAvatar()) > 0 {
			avatars++
		}
		if u.GetLoyaltyPoints() > 1<<53 {
			bigPoints++
		}
		roles[u.GetRole()]++
	}
	for name, n := range map[string]int{
		"phone": phones, "chat_handle": chats, "no contact": noContact, "nickname": nick,
		"no nickname": noNick, "avatar": avatars, "loyalty_points > 2^53": bigPoints,
		"customers": roles[usersv1.Role_ROLE_CUSTOMER], "support": roles[usersv1.Role_ROLE_SUPPORT], "admins": roles[usersv1.Role_ROLE_ADMIN],
	} {
		if n == 0 {
			t.Errorf("no seed user with %s", name)
		}
	}

	// Every server starts from the same seed.
	again, err := start(t).GetUser(context.Background(), &usersv1.GetUserRequest{Id: "12"})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(again, all[11]) {
		t.Errorf("seed differs between servers:\n%v\n%v", again, all[11])
	}
	if again.GetLoyaltyPoints() != math.MaxInt64 {
		t.Errorf("user 12 loyalty_points = %d, want MaxInt64", again.GetLoyaltyPoints())
	}
}

func TestListUsersPaging(t *testing.T) {
	t.Parallel()
	c := start(t)
	var want []string
	for i := 1; i <= users.SeedCount; i++ {
		want = append(want, fmt.Sprint(i))
	}
	for _, size := range []int32{0, 1, 5, 7, 23, 24, 100, 1000} {
		if got := ids(listAll(t, c, &usersv1.ListUsersRequest{PageSize: size})); !slices.Equal(got, want) {
			t.Errorf("page_size %d: ids %v, want %v", size, got, want)
		}
	}

	first, err := c.ListUsers(context.Background(), &usersv1.ListUsersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.GetUsers()) != 10 || first.GetTotalSize() != users.SeedCount || first.GetNextPageToken() == "" {
		t.Errorf("default page: %d users, total %d, token %q; want 10, %d, a token",
			len(first.GetUsers()), first.GetTotalSize(), first.GetNextPageToken(), users.SeedCount)
	}

	for name, req := range map[string]*usersv1.ListUsersRequest{
		"negative size":  {PageSize: -1},
		"garbage token":  {PageToken: "not a token"},
		"other filter":   {PageToken: first.GetNextPageToken(), Filter: &usersv1.ListUsersRequest_Filter{Country: "GB"}},
		"tampered token": {PageToken: first.GetNextPageToken() + "x"},
	} {
		_, err := c.ListUsers(context.Background(), req)
		if st, _ := status.FromError(err); st.Code() != codes.InvalidArgument {
			t.Errorf("%s: error %v, want InvalidArgument", name, err)
		}
	}
}

func TestListUsersFilter(t *testing.T) {
	t.Parallel()
	c := start(t)
	for _, tc := range []struct {
		filter *usersv1.ListUsersRequest_Filter
		want   []string
	}{
		{&usersv1.ListUsersRequest_Filter{Role: usersv1.Role_ROLE_ADMIN}, []string{"2", "20"}},
		{&usersv1.ListUsersRequest_Filter{Role: usersv1.Role_ROLE_SUPPORT, Country: "us"}, []string{"3", "19"}},
		{&usersv1.ListUsersRequest_Filter{Country: "DE"}, []string{"11", "12", "16"}},
		{&usersv1.ListUsersRequest_Filter{Country: "GB"}, []string{"1", "2", "6", "7", "9", "17"}},
		{&usersv1.ListUsersRequest_Filter{Country: "ZZ"}, nil},
	} {
		got := ids(listAll2(t, c, &usersv1.ListUsersRequest{PageSize: 2, Filter: tc.filter}))
		if !slices.Equal(got, tc.want) {
			t.Errorf("filter %v: ids %v, want %v", tc.filter, got, tc.want)
		}
		resp, err := c.ListUsers(context.Background(), &usersv1.ListUsersRequest{PageSize: 1, Filter: tc.filter})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetTotalSize() != int32(len(tc.want)) {
			t.Errorf("filter %v: total_size %d, want %d", tc.filter, resp.GetTotalSize(), len(tc.want))
		}
	}
}

// listAll2 is listAll allowing an empty result.
func listAll2(t *testing.T, c usersv1.UserServiceClient, req *usersv1.ListUsersRequest) []*usersv1.User {
	t.Helper()
	resp, err := c.ListUsers(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetUsers()) == 0 {
		return nil
	}
	return listAll(t, c, req)
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, time.May, 4, 12, 0, 0, 0, time.UTC)
	c := start(t, users.WithClock(func() time.Time { return now }))
	ctx := context.Background()

	in := &usersv1.User{
		Id:        "ignored",
		Name:      "Hedy Lamarr",
		Email:     "hedy@example.com",
		CreatedAt: timestamppb.New(time.Unix(0, 0)),
		Nickname:  wrapperspb.String("Hedy"),
		Contact:   &usersv1.User_Phone{Phone: "+1 555 0100"},
	}
	got, err := c.CreateUser(ctx, &usersv1.CreateUserRequest{User: in})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetId() != "25" || !got.GetCreatedAt().AsTime().Equal(now) || got.GetRole() != usersv1.Role_ROLE_CUSTOMER ||
		got.GetName() != in.GetName() || got.GetPhone() != "+1 555 0100" || got.GetNickname().GetValue() != "Hedy" {
		t.Errorf("created %v", got)
	}
	read, err := c.GetUser(ctx, &usersv1.GetUserRequest{Id: "25"})
	if err != nil || !proto.Equal(read, got) {
		t.Errorf("GetUser(25) = %v, %v; want %v", read, err, got)
	}
	second, err := c.CreateUser(ctx, &usersv1.CreateUserRequest{User: &usersv1.User{Name: "Chien-Shiung Wu", Email: "chien-shiung@example.com"}})
	if err != nil || second.GetId() != "26" {
		t.Fatalf("second user: %v, %v; want id 26", second, err)
	}
	list, err := c.ListUsers(ctx, &usersv1.ListUsersRequest{PageSize: 100})
	if err != nil || list.GetTotalSize() != 26 || ids(list.GetUsers())[25] != "26" {
		t.Errorf("after two creates: total %d, err %v", list.GetTotalSize(), err)
	}

	for _, tc := range []struct {
		user *usersv1.User
		code codes.Code
		want []string
	}{
		{nil, codes.InvalidArgument, []string{"user"}},
		{&usersv1.User{}, codes.InvalidArgument, []string{"user.name", "user.email"}},
		{&usersv1.User{Name: "  ", Email: "no-at-sign"}, codes.InvalidArgument, []string{"user.name", "user.email"}},
		{&usersv1.User{Name: "X", Email: "x@example.com", Role: 42}, codes.InvalidArgument, []string{"user.role"}},
		{&usersv1.User{Name: "Ada Again", Email: "ADA@example.com"}, codes.AlreadyExists, nil},
	} {
		_, err := c.CreateUser(ctx, &usersv1.CreateUserRequest{User: tc.user})
		st := wantCode(t, err, tc.code)
		if tc.want != nil {
			if got := violations(t, st); !slices.Equal(got, tc.want) {
				t.Errorf("create %v: violations %q, want %q", tc.user, got, tc.want)
			}
		}
	}
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	c := start(t)
	ctx := context.Background()
	update := func(u *usersv1.User, paths ...string) (*usersv1.User, error) {
		req := &usersv1.UpdateUserRequest{User: u}
		if paths != nil {
			req.UpdateMask = &fieldmaskpb.FieldMask{Paths: paths}
		}
		return c.UpdateUser(ctx, req)
	}
	before, err := c.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
	if err != nil {
		t.Fatal(err)
	}

	// A mask changes only what it names, here one nested field, clearing what the request leaves
	// unset (nickname); other fields set in the request (name) are not touched.
	got, err := update(&usersv1.User{
		Id:      "1",
		Name:    "Not Applied",
		Address: &usersv1.User_Address{City: "Marylebone"},
	}, "address.city", "nickname")
	if err != nil {
		t.Fatal(err)
	}
	want := proto.CloneOf(before)
	want.Address.City = "Marylebone"
	want.Nickname = nil
	if !proto.Equal(got, want) {
		t.Errorf("masked update:\n got %v\nwant %v", got, want)
	}

	// An empty mask changes every field set in the request; id and created_at stay.
	got, err = update(&usersv1.User{
		Id:        "1",
		Email:     "countess@example.com",
		Contact:   &usersv1.User_Phone{Phone: "+44 20 7946 0000"},
		Tags:      []string{"poet"},
		CreatedAt: timestamppb.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	want.Email, want.Contact, want.Tags = "countess@example.com", &usersv1.User_Phone{Phone: "+44 20 7946 0000"}, []string{"poet"}
	if !proto.Equal(got, want) {
		t.Errorf("update without mask:\n got %v\nwant %v", got, want)
	}
	if read, _ := c.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"}); !proto.Equal(read, want) {
		t.Errorf("GetUser after update = %v", read)
	}

	// Naming one oneof member clears it when the request does not set it.
	got, err = update(&usersv1.User{Id: "1"}, "phone")
	if err != nil || got.GetContact() != nil {
		t.Errorf("clearing phone: %v, %v", got.GetContact(), err)
	}

	// "*" replaces every field but id and created_at.
	got, err = update(&usersv1.User{Id: "1", Name: "Augusta Ada King", Email: "augusta@example.com"}, "*")
	if err != nil {
		t.Fatal(err)
	}
	want = &usersv1.User{Id: "1", Name: "Augusta Ada King", Email: "augusta@example.com", CreatedAt: before.GetCreatedAt()}
	if !proto.Equal(got, want) {
		t.Errorf("full replacement:\n got %v\nwant %v", got, want)
	}

	for name, tc := range map[string]struct {
		user  *usersv1.User
		paths []string
		code  codes.Code
	}{
		"unknown path":      {&usersv1.User{Id: "1"}, []string{"shoe_size"}, codes.InvalidArgument},
		"unknown subpath":   {&usersv1.User{Id: "1"}, []string{"address.planet"}, codes.InvalidArgument},
		"path into a map":   {&usersv1.User{Id: "1"}, []string{"labels.region"}, codes.InvalidArgument},
		"clearing the name": {&usersv1.User{Id: "1"}, []string{"name"}, codes.InvalidArgument},
		"no id":             {&usersv1.User{Name: "X"}, nil, codes.InvalidArgument},
		"unknown user":      {&usersv1.User{Id: "99", Name: "X"}, nil, codes.NotFound},
		"taken email":       {&usersv1.User{Id: "1", Email: "alan@example.com"}, nil, codes.AlreadyExists},
	} {
		_, err := update(tc.user, tc.paths...)
		if st, _ := status.FromError(err); st.Code() != tc.code {
			t.Errorf("%s: error %v, want %v", name, err, tc.code)
		}
	}
	if _, err := c.UpdateUser(ctx, &usersv1.UpdateUserRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("no user: %v", err)
	}
}

func TestBatchGetUsers(t *testing.T) {
	t.Parallel()
	c := start(t)
	resp, err := c.BatchGetUsers(context.Background(), &usersv1.BatchGetUsersRequest{Ids: []string{"3", "99", "1", "", "3"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(resp.GetUsers()); !slices.Equal(got, []string{"3", "1", "3"}) {
		t.Errorf("ids %v, want [3 1 3]", got)
	}
	_, err = c.BatchGetUsers(context.Background(), &usersv1.BatchGetUsersRequest{Ids: make([]string, users.MaxBatch+1)})
	wantCode(t, err, codes.InvalidArgument)
}

// TestConcurrentWrites creates and updates users from many goroutines: ids stay unique and the race
// detector stays quiet.
func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	c := start(t)
	const n = 16
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]bool{}
		errs []error
	)
	for i := range n {
		wg.Go(func() {
			u, err := c.CreateUser(context.Background(), &usersv1.CreateUserRequest{User: &usersv1.User{
				Name: fmt.Sprintf("Student %d", i), Email: fmt.Sprintf("student%d@example.com", i),
			}})
			if err == nil {
				_, err = c.UpdateUser(context.Background(), &usersv1.UpdateUserRequest{
					User: &usersv1.User{Id: "1", Tags: []string{fmt.Sprint(i)}},
				})
			}
			if err == nil {
				_, err = c.ListUsers(context.Background(), &usersv1.ListUsersRequest{PageSize: 100})
			}
			mu.Lock()
			defer mu.Unlock()
			errs = append(errs, err)
			seen[u.GetId()] = true
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Errorf("%d distinct ids for %d new users", len(seen), n)
	}
}
