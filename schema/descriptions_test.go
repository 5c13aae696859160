package schema_test

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/protogate/gateway/schema"
)

func TestDescriptions(t *testing.T) {
	s := mustBuild(t, shopFromSource(t), schema.Options{Links: shopLinks()})
	types := s.AST().Types
	checks := []struct{ what, got, want string }{
		{"type User", types["User"].Description, "User is a customer or a member of staff."},
		{"input UserInput", types["UserInput"].Description, "User is a customer or a member of staff."},
		{"nested type", types["User_Address"].Description, "A postal address."},
		{"field User.name", types["User"].Fields.ForName("name").Description, "Full name."},
		{"enum Role", types["Role"].Description, "Role says what a user may do in the shop."},
		{"enum value", types["Role"].EnumValues.ForName("ROLE_ADMIN").Description, "Staff who manage the shop."},
		{"root field", s.AST().Query.Fields.ForName("getUser").Description, "GetUser returns one user by id."},
		{"argument", s.AST().Query.Fields.ForName("getUser").Arguments.ForName("id").Description, "The user's id."},
		{"subscription", s.AST().Subscription.Fields.ForName("watchInventory").Description, "WatchInventory streams the stock level of one product until the caller cancels."},
		{"oneof member", types["User"].Fields.ForName("phone").Description, "Part of oneof contact: at most one of phone, chatHandle is set."},
		{"link", types["Order"].Fields.ForName("user").Description, "Calls shop.users.v1.UserService/GetUser(id: userId), batched into shop.users.v1.UserService/BatchGetUsers."},
		{"scalar", types["Int64"].Description, "A signed 64-bit integer"},
	}
	for _, c := range checks {
		if !strings.HasPrefix(c.got, c.want) {
			t.Errorf("%s: description %q, want %q", c.what, c.got, c.want)
		}
	}
	if d := types["Order"].Fields.ForName("card").Description; d != "Part of oneof payment: at most one of card, voucherCode is set." {
		t.Errorf("Order.card: %q", d)
	}
	if d := s.AST().Mutation.Fields.ForName("createOrder").Arguments.ForName("card").Description; d != "Part of oneof payment: set at most one of card, voucherCode." {
		t.Errorf("createOrder(card:): %q", d)
	}
}

func TestNoDescriptionsWithoutSourceInfo(t *testing.T) {
	s := mustBuild(t, shopServices(), schema.Options{})
	if d := s.AST().Types["User"].Description; d != "" {
		t.Errorf("User has description %q from descriptors without source info", d)
	}
	if d := s.AST().Query.Fields.ForName("getUser").Description; d != "" {
		t.Errorf("getUser has description %q", d)
	}
}

func TestDeprecated(t *testing.T) {
	s := featureSchema(t)
	if s.AST().Query.Fields.ForName("old").Directives.ForName("deprecated") == nil {
		t.Error("deprecated method is not @deprecated")
	}
	if s.AST().Types["Node"].Fields.ForName("old").Directives.ForName("deprecated") == nil {
		t.Error("deprecated field is not @deprecated")
	}
	if s.RootField(ast.Query, "old") == nil {
		t.Error("deprecated method has no root field")
	}
}
