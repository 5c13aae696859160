package resolvers

import (
	"bytes"
	"context"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/schema"
)

// BenchmarkOutput measures the choice behind output.go: a User as the upstream sent it, turned into
// the JSON of a selection, (a) straight from the wire bytes by the writer, and (b) the way
// generated gqlgen code would with a dynamic message: dynamicpb decodes the bytes, then a
// graphql.FieldSet of graphql.Marshal* values per object writes the JSON.
func BenchmarkOutput(b *testing.B) {
	s, err := schema.Build([]protoreflect.ServiceDescriptor{usersv1.File_shop_users_v1_users_proto.Services().Get(0)}, schema.Options{})
	if err != nil {
		b.Fatal(err)
	}
	doc := `{ getUser(id: "1") { id name email role loyaltyPoints tags nickname createdAt address { city country } } }`
	q, gerr := gqlparser.LoadQueryWithRules(s.AST(), doc, nil)
	if gerr != nil {
		b.Fatal(gerr)
	}
	opCtx := &graphql.OperationContext{Doc: q, Operation: q.Operations[0], Variables: map[string]any{}}
	ctx := graphql.WithResponseContext(graphql.WithOperationContext(context.Background(), opCtx),
		func(_ context.Context, err error) *gqlerror.Error { return gqlerror.Wrap(err) }, nil)
	u := &usersv1.User{
		Id: "1", Name: "Ada Lovelace", Email: "ada@example.com", Role: usersv1.Role_ROLE_CUSTOMER,
		CreatedAt: timestamppb.New(time.Date(2023, 1, 2, 9, 30, 0, 0, time.UTC)),
		Address:   &usersv1.User_Address{Street: "12 St James's Square", City: "London", PostalCode: "SW1Y 4JH", Country: "GB"},
		Tags:      []string{"vip", "early-adopter"}, Labels: map[string]string{"region": "eu", "segment": "new"},
		Nickname: wrapperspb.String("Enchantress of Numbers"), LoyaltyPoints: 1815, Avatar: []byte{0x89, 'P', 'N', 'G'},
	}
	u.Preferences, _ = structpb.NewStruct(map[string]any{"theme": "dark", "newsletter": true})
	data, _ := proto.Marshal(u)
	x := newExecutor(s, nil, Options{})
	rf := s.RootField(ast.Query, "getUser")
	op := x.newOperation(ctx, opCtx)
	root := op.collect(opCtx.Operation.SelectionSet, nil, "Query")

	var want []byte
	b.Run("wire", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			op := x.newOperation(ctx, opCtx)
			w := op.writer(512)
			if !w.object(data, rf.Result.Object, &root[0]) {
				b.Fatal("failed")
			}
			op.finish()
			want = w.buf
		}
	})
	b.Run("dynamicpb+FieldSet", func(b *testing.B) {
		b.ReportAllocs()
		var got bytes.Buffer
		for range b.N {
			m := dynamicpb.NewMessage(rf.Method.Output())
			if err := proto.Unmarshal(data, m); err != nil {
				b.Fatal(err)
			}
			got.Reset()
			fieldSet(opCtx, m, rf.Result.Object, root[0].Selections).MarshalGQL(&got)
		}
		if !bytes.Equal(got.Bytes(), want) {
			b.Fatalf("the two ways differ:\n%s\n%s", got.Bytes(), want)
		}
	})
}

// fieldSet is what generated code does for an object, for the kinds the benchmark selects.
func fieldSet(opCtx *graphql.OperationContext, m protoreflect.Message, obj *schema.Object, sel ast.SelectionSet) graphql.Marshaler {
	fields := graphql.CollectFields(opCtx, sel, []string{obj.Name})
	out := graphql.NewFieldSet(fields)
	for i, cf := range fields {
		f := obj.Field(cf.Name)
		fd := f.Desc
		switch {
		case f.List:
			list := m.Get(fd).List()
			arr := make(graphql.Array, list.Len())
			for j := range list.Len() {
				arr[j] = graphql.MarshalString(list.Get(j).String())
			}
			out.Values[i] = arr
		case f.Kind == schema.KindMessage:
			if !m.Has(fd) {
				out.Values[i] = graphql.Null
				continue
			}
			out.Values[i] = fieldSet(opCtx, m.Get(fd).Message(), f.Object, cf.Selections)
		case f.Kind == schema.KindString && f.Wrapper:
			if !m.Has(fd) {
				out.Values[i] = graphql.Null
				continue
			}
			inner := m.Get(fd).Message()
			out.Values[i] = graphql.MarshalString(inner.Get(inner.Descriptor().Fields().ByNumber(1)).String())
		case f.Kind == schema.KindString:
			out.Values[i] = graphql.MarshalString(m.Get(fd).String())
		case f.Kind == schema.KindInt64:
			out.Values[i] = graphql.MarshalString(strconv.FormatInt(m.Get(fd).Int(), 10))
		case f.Kind == schema.KindEnum:
			name, _ := f.Enum.ValueName(m.Get(fd).Enum())
			out.Values[i] = graphql.MarshalString(name)
		case f.Kind == schema.KindTimestamp:
			ts := m.Get(fd).Message()
			secs := ts.Get(ts.Descriptor().Fields().ByNumber(1)).Int()
			t := time.Unix(secs, 0).UTC()
			out.Values[i] = graphql.MarshalString(t.Format("2006-01-02T15:04:05Z"))
		case f.Kind == schema.KindBytes:
			out.Values[i] = graphql.MarshalString(base64.StdEncoding.EncodeToString(m.Get(fd).Bytes()))
		}
	}
	return out
}
