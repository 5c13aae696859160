package transcoder_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"go.yaml.in/yaml/v3"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/transcoder"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// oaShopOptions are the options of the shop's golden document.
var oaShopOptions = transcoder.OpenAPIOptions{Title: "Shop", Version: "1.0.0", IncludeUnbound: true}

// oaShopServices are the demo shop's services as the generated code links them: no source info.
func oaShopServices() []protoreflect.ServiceDescriptor {
	var out []protoreflect.ServiceDescriptor
	for _, f := range []protoreflect.FileDescriptor{
		usersv1.File_shop_users_v1_users_proto, ordersv1.File_shop_orders_v1_orders_proto, catalogv1.File_shop_catalog_v1_catalog_proto,
	} {
		out = append(out, f.Services().Get(0))
	}
	return out
}

// oaCompile compiles every .proto under root/sub, as a registration of .proto sources would, and
// returns their services: descriptors with source info. Import paths are relative to root.
func oaCompile(t testing.TB, root, sub string) []protoreflect.ServiceDescriptor {
	t.Helper()
	sources := make(map[string]string)
	dir := root
	err := filepath.WalkDir(filepath.Join(root, sub), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".proto") {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		sources[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	files, err := registry.FilesFromProtos(t.Context(), sources, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []protoreflect.ServiceDescriptor
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if _, ours := sources[fd.Path()]; ours {
			for i := range fd.Services().Len() {
				out = append(out, fd.Services().Get(i))
			}
		}
		return true
	})
	return out
}

func oaFeatures(t testing.TB) []protoreflect.ServiceDescriptor {
	return oaCompile(t, filepath.Join("testdata", "openapi"), "features")
}

// oaGenerate writes the document of services, which must describe every binding.
func oaGenerate(t testing.TB, services []protoreflect.ServiceDescriptor, opts transcoder.OpenAPIOptions) []byte {
	t.Helper()
	doc, omitted, err := transcoder.OpenAPI(services, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(omitted) > 0 {
		t.Fatalf("bindings left out: %v", omitted)
	}
	return doc
}

func oaGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "openapi", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the document generated (run go test -update to accept it):\n%s", path, oaFirstDiff(want, got))
	}
}

func oaFirstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\nwant %s\ngot  %s", i+1, wl, gl)
		}
	}
	return ""
}

// oaValidate checks a document against the OpenAPI 3.1 specification's schema with libopenapi,
// and for what that schema cannot say: every $ref resolves, every path parameter is declared
// (and no other), no two paths differ only in parameter names, operationIds are unique.
func oaValidate(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	parsed, err := libopenapi.NewDocument(doc)
	if err != nil {
		t.Fatalf("libopenapi: %v", err)
	}
	v, errs := validator.NewValidator(parsed)
	if len(errs) > 0 {
		t.Fatalf("libopenapi validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("not valid OpenAPI 3.1: %v", e)
		}
	}

	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	if m["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v", m["openapi"])
	}
	oaWalk(m, "", func(ptr string, v any) {
		if obj, ok := v.(map[string]any); ok {
			if ref, ok := obj["$ref"].(string); ok {
				if _, err := oaPointer(m, strings.TrimPrefix(ref, "#")); err != nil || !strings.HasPrefix(ref, "#/") {
					t.Errorf("%s: $ref %s does not resolve", ptr, ref)
				}
			}
		}
	})
	ids := make(map[string]string)
	shapes := make(map[string]string)
	varRE := regexp.MustCompile(`\{[^}]*\}`)
	for path, item := range m["paths"].(map[string]any) {
		shape := varRE.ReplaceAllString(path, "{}")
		if other, dup := shapes[shape]; dup {
			t.Errorf("paths %s and %s differ only in parameter names", path, other)
		}
		shapes[shape] = path
		var names []string
		for _, v := range varRE.FindAllString(path, -1) {
			names = append(names, strings.Trim(v, "{}"))
		}
		slices.Sort(names)
		for method, op := range item.(map[string]any) {
			op := op.(map[string]any)
			id, _ := op["operationId"].(string)
			if prev, dup := ids[id]; dup || id == "" {
				t.Errorf("%s %s: operationId %q, also of %s", method, path, id, prev)
			}
			ids[id] = method + " " + path
			var declared []string
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				p := p.(map[string]any)
				if p["in"] == "path" {
					declared = append(declared, p["name"].(string))
					if p["required"] != true {
						t.Errorf("%s %s: path parameter %s is not required", method, path, p["name"])
					}
				}
			}
			slices.Sort(declared)
			if !slices.Equal(names, declared) {
				t.Errorf("%s %s: path parameters %v, template has %v", method, path, declared, names)
			}
			if _, ok := op["responses"].(map[string]any)["default"]; !ok {
				t.Errorf("%s %s: no default (error) response", method, path)
			}
		}
	}
	return m
}

// oaWalk calls fn for every value of a decoded JSON document, with its JSON pointer.
func oaWalk(v any, ptr string, fn func(ptr string, v any)) {
	fn(ptr, v)
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			oaWalk(c, ptr+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"), fn)
		}
	case []any:
		for i, c := range v {
			oaWalk(c, ptr+"/"+strconv.Itoa(i), fn)
		}
	}
}

// oaPointer resolves a JSON pointer (RFC 6901) in a decoded document.
func oaPointer(doc any, ptr string) (any, error) {
	if ptr == "" {
		return doc, nil
	}
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("%s: no %q", ptr, tok)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("%s: no index %q", ptr, tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("%s: %q into a %T", ptr, tok, cur)
		}
	}
	return cur, nil
}

func TestOpenAPIShopGolden(t *testing.T) {
	doc := oaGenerate(t, oaShopServices(), oaShopOptions)
	oaGolden(t, "shop.golden.json", doc)
	oaValidate(t, doc)
}

func TestOpenAPIFeaturesGolden(t *testing.T) {
	doc := oaGenerate(t, oaFeatures(t), transcoder.OpenAPIOptions{Title: "Features", Version: "2", ServerURL: "https://api.example.com", IncludeUnbound: true})
	oaGolden(t, "features.golden.json", doc)
	oaValidate(t, doc)
}

// The same services compiled from their .proto sources carry comments: the document gains
// descriptions and summaries, and nothing else changes.
func TestOpenAPIShopComments(t *testing.T) {
	fromProtos := oaValidate(t, oaGenerate(t, oaCompile(t, filepath.Join("..", "proto"), "shop"), oaShopOptions))
	fromGen := oaValidate(t, oaGenerate(t, oaShopServices(), oaShopOptions))

	for ptr, want := range map[string]string{
		"/tags/2/description":                                                                     "UserService manages the shop's customers.",
		"/paths/~1v1~1users~1{id}/get/summary":                                                    "GetUser returns one user by id.",
		"/paths/~1v1~1users~1{id}/get/parameters/0/description":                                   "The user's id.",
		"/paths/~1v1~1users~1{id}/patch/parameters/0/description":                                 "Sets `user.id`.\n\nOpaque identifier, e.g. \"1\".",
		"/paths/~1v1~1users/get/parameters/2/description":                                         "Only users with this role.",
		"/components/schemas/shop.users.v1.User/description":                                      "User is a customer or a member of staff.",
		"/components/schemas/shop.users.v1.User/properties/email/description":                     "Email address.",
		"/components/schemas/shop.orders.v1.Order/properties/giftMessage/description":             "Gift message printed on the packing slip, unset when none.",
		"/components/schemas/shop.users.v1.User.Address/properties/country/description":           "Two-letter ISO 3166-1 country code.",
		"/components/schemas/shop.users.v1.Role/description":                                      "Role says what a user may do in the shop.\n\n- `ROLE_CUSTOMER`: A customer who places orders.\n- `ROLE_SUPPORT`: Staff who answer customers.\n- `ROLE_ADMIN`: Staff who manage the shop.",
		"/components/schemas/shop.orders.v1.ImportOrdersResponse/properties/rejected/description": "Ids of orders refused, with the reason, keyed by id.",
	} {
		got, err := oaPointer(fromProtos, ptr)
		if err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", ptr, got, err, want)
		}
		if got, err := oaPointer(fromGen, ptr); err == nil && got == want {
			t.Errorf("%s = %q from descriptors without source info", ptr, got)
		}
	}

	strip := func(doc map[string]any) map[string]any {
		oaWalk(doc, "", func(_ string, v any) {
			if obj, ok := v.(map[string]any); ok {
				if _, isSchemas := obj["shop.users.v1.User"]; isSchemas {
					return // a map of names: none of them is a keyword
				}
				for _, k := range []string{"summary", "description"} {
					if _, ok := obj[k].(string); ok {
						delete(obj, k)
					}
				}
			}
		})
		return doc
	}
	a, _ := json.Marshal(strip(fromProtos))
	b, _ := json.Marshal(strip(fromGen))
	if !bytes.Equal(a, b) {
		t.Errorf("without descriptions, the documents differ:\n%s", oaFirstDiff(b, a))
	}
}

// Descriptors without source info give no descriptions of their own: only the fixed ones the
// document writes for well-known types, errors, oneofs and parameters it explains.
func TestOpenAPINoSourceInfo(t *testing.T) {
	doc := oaValidate(t, oaGenerate(t, oaShopServices(), oaShopOptions))
	fixed := regexp.MustCompile("^(OK|An error\\.|A stream of messages|Switching Protocols|Newline-delimited JSON|An error: a gRPC|Member of oneof|" +
		"The gRPC status code|What went wrong|Machine-readable|A message of any type|A duration in seconds|Field paths in lowerCamel|Sets `|" +
		"A value by its number|The fields to change|Partial: )")
	oaWalk(doc, "", func(ptr string, v any) {
		if strings.HasSuffix(ptr, "/summary") || strings.HasSuffix(ptr, "/description") {
			if s, ok := v.(string); ok && !fixed.MatchString(s) {
				t.Errorf("%s = %q", ptr, s)
			}
		}
	})
}

func TestOpenAPIFeatures(t *testing.T) {
	doc := oaValidate(t, oaGenerate(t, oaFeatures(t), transcoder.OpenAPIOptions{IncludeUnbound: true}))
	const (
		thing  = "/components/schemas/features.v1.Thing/properties/"
		search = "/paths/~1v1~1things:search/get/parameters"
	)
	for ptr, want := range map[string]any{
		"/info/title":   "API",
		"/info/version": "0.0.0",
		// Bindings: templates, custom verbs, additional bindings, custom methods.
		"/paths/~1v1~1{name}/get/operationId":                                                  "features_v1_ThingService_GetThing",
		"/paths/~1v1~1{name}/get/parameters/0/schema/pattern":                                  "^projects/[^/]+/things/[^/]+$",
		"/paths/~1v1~1things~1{name}/get/operationId":                                          "features_v1_ThingService_GetThing_2",
		"/paths/~1v1~1{name}~1revisions~1{revision}/get/operationId":                           "features_v1_ThingService_GetThing_3",
		"/paths/~1v1~1{name}~1revisions~1{revision}/get/parameters/1/schema/type":              "string",
		"/paths/~1v1~1{name}~1revisions~1{revision}/get/parameters/2/name":                     "readMask",
		"/paths/~1v2~1things~1{id}/get/operationId":                                            "features_v2_ThingService_GetThing",
		"/paths/~1v1~1{name}:publish/post/requestBody/content/application~1json/schema/$ref":   "#/components/schemas/features.v1.Message",
		"/paths/~1v1~1{name}:publish/post/requestBody/description":                             "What to publish.",
		"/paths/~1v1~1{name}:publish/post/parameters/1/name":                                   "dryRun",
		"/paths/~1v1~1{name}:publish/post/responses/200/content/application~1json/schema/$ref": "#/components/schemas/features.v1.Receipt",
		"/paths/~1v1~1things~1{name}/head/operationId":                                         "features_v1_ThingService_CheckThing",
		"/paths/~1v1~1things~1{name}/delete/parameters/0/description":                          "Sets `thing_id`.",
		"/paths/~1v1~1things~1{name}/delete/parameters/2/name":                                 "force",
		"/paths/~1v1~1files~1{path}/get/parameters/0/schema/pattern":                           "^[^/]+(/[^/]+)*$",
		"/paths/~1v1~1old~1{name}/get/deprecated":                                              true,
		// Nested path variable with a body field: the body is the message, the rest is query.
		// It takes the parameter name of the same-shaped path of GetThing.
		// Its update_mask comes from the body's keys: the body is any of Thing's fields, and of
		// the fields of the messages it nests.
		"/paths/~1v1~1{name}/patch/requestBody/content/application~1json/schema/$ref":  "#/components/schemas/features.v1.Thing-partial",
		"/components/schemas/features.v1.Thing-partial/properties/parent/$ref":         "#/components/schemas/features.v1.Thing-partial",
		"/components/schemas/features.v1.Thing-partial/properties/children/items/$ref": "#/components/schemas/features.v1.Thing",
		"/paths/~1v1~1{name}/patch/parameters/0/description":                           "Sets `thing.name`.\n\nResource name, e.g. projects/p1/things/t1.\n\nMatches `projects/*/things/*`; its slashes are sent as they are, not percent-encoded.",
		"/paths/~1v1~1{name}/patch/parameters/1/name":                                  "updateMask",
		"/paths/~1v1~1{name}/patch/parameters/1/schema/format":                         "field-mask",
		// body "*" with a path variable: the message less that field, inline.
		"/paths/~1v1~1{parent}~1things/post/requestBody/content/application~1json/schema/required/0":                "thing",
		"/paths/~1v1~1{parent}~1things/post/requestBody/content/application~1json/schema/properties/requestId/type": "string",
		// Query parameters.
		search + "/0/name":                 "pageSize",
		search + "/1/name":                 "tags",
		search + "/1/explode":              true,
		search + "/1/schema/type":          "array",
		search + "/2/schema/$ref":          "#/components/schemas/features.v1.Color",
		search + "/3/schema/items/$ref":    "#/components/schemas/features.v1.Color",
		search + "/4/name":                 "filter.owner",
		search + "/4/required":             true,
		search + "/5/name":                 "filter.color",
		search + "/6/name":                 "filter.since",
		search + "/6/schema/format":        "date-time",
		search + "/7/name":                 "filter.ids",
		search + "/7/schema/items/format":  "int64",
		search + "/8/name":                 "after",
		search + "/9/schema/pattern":       `^-?[0-9]+(\.[0-9]{1,9})?s$`,
		search + "/10/name":                "readMask",
		search + "/11/schema/type/1":       "null",
		search + "/12/schema/format":       "byte",
		search + "/13/name":                "maxSize",
		search + "/13/deprecated":          true,
		search + "/14/schema/items/format": "date-time",
		// Streaming.
		"/paths/~1v1~1{parent}~1things:watch/get/responses/200/content/application~1x-ndjson/schema/properties/result/$ref": "#/components/schemas/features.v1.Thing",
		"/paths/~1v1~1{parent}~1things:watch/get/responses/200/content/application~1x-ndjson/schema/properties/error/$ref":  "#/components/schemas/google.rpc.Status",
		"/paths/~1v1~1{parent}~1things:watch/get/responses/200/content/text~1event-stream/schema/type":                      "string",
		"/paths/~1v1~1things:upload/post/requestBody/content/application~1x-ndjson/schema/$ref":                             "#/components/schemas/features.v1.Thing",
		"/paths/~1v1~1things:chat/get/responses/101/description":                                                            "Switching Protocols: the request upgrades to a WebSocket; each frame carries one message as JSON, request messages from the client and response messages from the server.",
		// Unbound methods.
		"/paths/~1features.v1.ThingService~1Ping/post/requestBody/content/application~1json/schema/$ref":                         "#/components/schemas/google.protobuf.Empty",
		"/paths/~1features.v1.ThingService~1Tail/post/responses/200/content/application~1x-ndjson/schema/properties/result/$ref": "#/components/schemas/features.v1.ThingEvent",
		// Field schemas.
		thing + "name/type":                                  "string",
		thing + "i32/format":                                 "int32",
		thing + "s32/format":                                 "int32",
		thing + "u32/format":                                 "uint32",
		thing + "f32/type":                                   "integer",
		thing + "i64/type":                                   "string",
		thing + "sf64/format":                                "int64",
		thing + "u64/format":                                 "uint64",
		thing + "f64/type":                                   "string",
		thing + "fl/anyOf/0/format":                          "float",
		thing + "db/anyOf/0/type":                            "number",
		thing + "db/anyOf/1/enum/1":                          "Infinity",
		thing + "flag/type":                                  "boolean",
		thing + "data/format":                                "byte",
		thing + "color/$ref":                                 "#/components/schemas/features.v1.Color",
		thing + "colors/items/$ref":                          "#/components/schemas/features.v1.Color",
		thing + "byNumber/propertyNames/pattern":             "^-?[0-9]+$",
		thing + "byFlag/propertyNames/enum/1":                "false",
		thing + "byFlag/additionalProperties/$ref":           "#/components/schemas/features.v1.Thing.Nested",
		thing + "extras/propertyNames/pattern":               "^[0-9]+$",
		thing + "createTime/format":                          "date-time",
		thing + "createTime/readOnly":                        true,
		thing + "createTime/description":                     "When the thing was made.",
		thing + "ttl/pattern":                                `^-?[0-9]+(\.[0-9]{1,9})?s$`,
		thing + "mask/format":                                "field-mask",
		thing + "attrs/type":                                 "object",
		thing + "list/type":                                  "array",
		thing + "any/$ref":                                   "#/components/schemas/google.protobuf.Any",
		thing + "empty/$ref":                                 "#/components/schemas/google.protobuf.Empty",
		thing + "wDouble/anyOf/0/type":                       "number",
		thing + "wDouble/anyOf/2/type":                       "null",
		thing + "wInt64/type/0":                              "string",
		thing + "wUint32/format":                             "uint32",
		thing + "wBool/type/0":                               "boolean",
		thing + "wBytes/format":                              "byte",
		thing + "user/description":                           "Member of oneof `owner`: at most one of `user`, `group` is set.",
		thing + "user/x-oneof":                               "owner",
		thing + "secret/writeOnly":                           true,
		thing + "legacy/deprecated":                          true,
		thing + "parent/$ref":                                "#/components/schemas/features.v1.Thing",
		thing + "children/items/$ref":                        "#/components/schemas/features.v1.Thing",
		thing + "customJSON/type":                            "string",
		thing + "nothing/type":                               "null",
		thing + "history/items/format":                       "date-time",
		"/components/schemas/features.v1.Thing/required/0":   "displayName",
		"/components/schemas/google.protobuf.Any/required/0": "@type",
		"/components/schemas/google.rpc.Status/properties/details/items/$ref": "#/components/schemas/google.protobuf.Any",
		// Enums: an open one also takes numbers (values newer than the descriptor), a closed one not.
		"/components/schemas/features.v1.Color/anyOf/0/enum/1": "COLOR_RED",
		"/components/schemas/features.v1.Color/anyOf/1/type":   "integer",
		"/components/schemas/features.v1.Mood/type":            "string",
		"/components/schemas/features.v1.Mood/enum/1":          "MOOD_GRUMPY",
	} {
		got, err := oaPointer(doc, ptr)
		if err != nil {
			t.Errorf("%v", err)
		} else if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", ptr, got, want)
		}
	}

	for _, ptr := range []string{
		"/paths/~1v1~1things~1{name}/lock",                                                                  // no place in OpenAPI 3.1
		"/paths/~1v1~1things~1{thing_id}",                                                                   // takes the name of the same-shaped path
		"/paths/~1v1~1{thing.name}/patch/parameters/2",                                                      // only updateMask: thing is the body
		"/paths/~1v1~1{parent}~1things/post/parameters/1",                                                   // body "*": no query
		"/paths/~1v1~1{parent}~1things/post/requestBody/content/application~1json/schema/properties/parent", // set by the path
		"/components/schemas/features.v1.Thing/properties/note/description",                                 // proto3 optional is no oneof
		"/components/schemas/features.v1.Thing-partial/required",                                            // an update's body
		"/components/schemas/features.v1.Thing/properties/display_name",                                     // JSON names only
		"/components/schemas/features.v1.Thing.ByNumberEntry",                                               // map entries are maps
		"/components/schemas/google.protobuf.Timestamp",                                                     // inline
		"/components/schemas/features.v1.Mood/anyOf",                                                        // closed: names only
		"/components/schemas/features.v1.CreateThingRequest",                                                // only inline
	} {
		if v, err := oaPointer(doc, ptr); err == nil {
			t.Errorf("%s = %v, want nothing", ptr, v)
		}
	}
	// Neither maps, repeated messages, free-form values nor recursion become query parameters.
	params, _ := oaPointer(doc, search)
	var names []string
	for _, p := range params.([]any) {
		names = append(names, p.(map[string]any)["name"].(string))
	}
	if want := "pageSize tags color colors filter.owner filter.color filter.since filter.ids after within readMask minScore cursor maxSize at"; strings.Join(names, " ") != want {
		t.Errorf("query parameters\n%s\nwant\n%s", strings.Join(names, " "), want)
	}
}

func TestOpenAPIIncludeUnbound(t *testing.T) {
	doc := oaValidate(t, oaGenerate(t, oaShopServices(), transcoder.OpenAPIOptions{}))
	for _, ptr := range []string{"/paths/~1v1~1users~1{id}/get", "/paths/~1v1~1orders:import/post"} {
		if _, err := oaPointer(doc, ptr); err != nil {
			t.Error(err)
		}
	}
	if _, err := oaPointer(doc, "/paths/~1shop.catalog.v1.CatalogService~1AdjustInventory"); err == nil {
		t.Error("an unbound method is listed with IncludeUnbound off")
	}
}

// The output depends on the services, not on their order or repeats.
func TestOpenAPIDeterministic(t *testing.T) {
	services := oaShopServices()
	want := oaGenerate(t, services, oaShopOptions)
	reordered := append([]protoreflect.ServiceDescriptor{services[2], services[0]}, services...)
	for range 3 {
		if got := oaGenerate(t, reordered, oaShopOptions); !bytes.Equal(got, want) {
			t.Fatalf("different output:\n%s", oaFirstDiff(want, got))
		}
	}
}

// oaFileOf builds a file declaring one service whose methods have the rules given (nil: none),
// all taking and returning a message with the fields given.
func oaFileOf(t testing.TB, pkg string, rules []*annotations.HttpRule, fields ...*descriptorpb.FieldDescriptorProto) protoreflect.FileDescriptor {
	t.Helper()
	msg := &descriptorpb.DescriptorProto{Name: proto.String("Thing"), Field: fields}
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("Service")}
	for i, rule := range rules {
		opts := new(descriptorpb.MethodOptions)
		if rule != nil {
			proto.SetExtension(opts, annotations.E_Http, rule)
		}
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{
			Name: proto.String("Method" + strconv.Itoa(i)), InputType: proto.String("." + pkg + ".Thing"),
			OutputType: proto.String("." + pkg + ".Thing"), Options: opts,
		})
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String(strings.ReplaceAll(pkg, ".", "/") + "/thing.proto"), Package: proto.String(pkg), Syntax: proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto"}, MessageType: []*descriptorpb.DescriptorProto{msg}, Service: []*descriptorpb.ServiceDescriptorProto{svc},
	}, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func oaField(name string, number int32, typ descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto {
	return &descriptorpb.FieldDescriptorProto{
		Name: proto.String(name), Number: proto.Int32(number), Type: typ.Enum(), JsonName: proto.String(name),
		Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
	}
}

// A binding the document cannot describe is left out, said why, and the others are described:
// each case's last method is the one at fault, after one that is fine.
func TestOpenAPIErrors(t *testing.T) {
	get := func(path string) *annotations.HttpRule {
		return &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: path}}
	}
	fine := get("/v1/fine")
	id := oaField("id", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING)
	for _, tc := range []struct {
		name  string
		rules []*annotations.HttpRule
		want  string
	}{
		{"bad template", []*annotations.HttpRule{fine, get("/v1/{id")}, "method errors.bad_template.Service.Method1: binding 0: path template"},
		{"unknown path field", []*annotations.HttpRule{fine, get("/v1/{nope}")}, "has no field nope"},
		{"path into a scalar", []*annotations.HttpRule{fine, get("/v1/{id.x}")}, "id is not a message"},
		{"unknown body field", []*annotations.HttpRule{fine, {Pattern: &annotations.HttpRule_Post{Post: "/v1"}, Body: "nope"}}, `body field "nope"`},
		{"unknown response field", []*annotations.HttpRule{fine, {Pattern: &annotations.HttpRule_Get{Get: "/v1"}, ResponseBody: "nope"}}, `response body field "nope"`},
		{"bound twice", []*annotations.HttpRule{get("/v1/{id}"), get("/v1/{id}")}, "GET /v1/{id} is bound twice: by Service_Method0 and Service_Method1"},
		{"bound twice by shape", []*annotations.HttpRule{get("/v1/{id}"), get("/v1/{id=*}")}, "GET /v1/{id=*} is bound twice"},
		{"no pattern", []*annotations.HttpRule{fine, {Body: "*"}}, "no HTTP method and path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fd := oaFileOf(t, "errors."+strings.ReplaceAll(tc.name, " ", "_"), tc.rules, id)
			doc, omitted, err := transcoder.OpenAPI([]protoreflect.ServiceDescriptor{fd.Services().Get(0)}, transcoder.OpenAPIOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(omitted) != 1 || !strings.Contains(omitted[0].Error(), tc.want) {
				t.Errorf("omitted = %v, want one error containing %q", omitted, tc.want)
			}
			m := oaValidate(t, doc)
			if got, _ := oaPointer(m, "/paths"); len(got.(map[string]any)) != 1 {
				t.Errorf("paths = %v, want the first method's alone", got)
			}
		})
	}
}

// A route bound twice is described once, as the router serves it: by a method's first binding
// of it, and by an explicit rule rather than the default route of a method without one, though
// the default route comes first. Neither is a binding left out.
func TestOpenAPIRouteBoundTwice(t *testing.T) {
	id := oaField("id", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING)
	twice := &annotations.HttpRule{
		Pattern:            &annotations.HttpRule_Get{Get: "/v1/{id}"},
		AdditionalBindings: []*annotations.HttpRule{{Pattern: &annotations.HttpRule_Get{Get: "/v1/{id=*}"}}},
	}
	fd := oaFileOf(t, "twice.v1", []*annotations.HttpRule{twice, nil}, id)
	claim := oaFileOf(t, "z.twice.v1", []*annotations.HttpRule{{Pattern: &annotations.HttpRule_Post{Post: "/twice.v1.Service/Method1"}, Body: "*"}}, id)
	doc := oaValidate(t, oaGenerate(t, []protoreflect.ServiceDescriptor{fd.Services().Get(0), claim.Services().Get(0)},
		transcoder.OpenAPIOptions{IncludeUnbound: true}))
	ops := make(map[string]any)
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			ops[method+" "+path] = op.(map[string]any)["operationId"]
		}
	}
	want := map[string]any{"get /v1/{id}": "twice_v1_Service_Method0", "post /twice.v1.Service/Method1": "z_twice_v1_Service_Method0"}
	if !maps.Equal(ops, want) {
		t.Errorf("operations %v, want %v", ops, want)
	}
}

// The document built with IncludeUnbound lists every default route the front serves, a bidi
// streaming method's too (NDJSON both ways on the POST; a WebSocket on the same path), and only those.
func TestOpenAPIListsDefaultRoutes(t *testing.T) {
	services := oaFeatures(t)
	rt, err := transcoder.NewRouter(services)
	if err != nil {
		t.Fatal(err)
	}
	doc := oaValidate(t, oaGenerate(t, services, transcoder.OpenAPIOptions{IncludeUnbound: true}))
	served := make(map[string]bool)
	bidi := 0
	for _, b := range rt.Bindings() {
		if b.Index() != -1 {
			continue
		}
		path := b.Template().String()
		served[path] = true
		op := "/paths/" + strings.ReplaceAll(path, "/", "~1") + "/post"
		if _, err := oaPointer(doc, op); err != nil {
			t.Errorf("%s serves POST %s, which the document does not list", b.FullMethod(), path)
			continue
		}
		if b.Kind() != routing.KindBidiStream {
			continue
		}
		bidi++
		for _, ptr := range []string{op + "/requestBody/content/application~1x-ndjson", op + "/responses/200/content/application~1x-ndjson"} {
			if _, err := oaPointer(doc, ptr); err != nil {
				t.Errorf("the bidi streaming %s: %v", b.FullMethod(), err)
			}
		}
	}
	if bidi == 0 {
		t.Fatal("no bidi streaming method has a default route: the case proves nothing")
	}
	for path := range doc["paths"].(map[string]any) {
		if strings.HasPrefix(path, "/features.") && !served[path] { // /{pkg.Service}/{Method}
			t.Errorf("the document lists %s, which the front does not serve", path)
		}
	}
}

// An empty document, and one of unbound methods only, are still valid.
func TestOpenAPIEmpty(t *testing.T) {
	oaValidate(t, oaGenerate(t, nil, transcoder.OpenAPIOptions{}))
	fd := oaFileOf(t, "empty.v1", []*annotations.HttpRule{nil}, oaField("id", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING))
	doc := oaValidate(t, oaGenerate(t, []protoreflect.ServiceDescriptor{fd.Services().Get(0)}, transcoder.OpenAPIOptions{IncludeUnbound: true}))
	if got, _ := oaPointer(doc, "/paths/~1empty.v1.Service~1Method0/post/operationId"); got != "Service_Method0" {
		t.Errorf("operationId = %v", got)
	}
}

// Requests as a REST client sends them validate against the document; bad ones do not.
func TestOpenAPIRequests(t *testing.T) {
	parsed, err := libopenapi.NewDocument(oaGenerate(t, oaShopServices(), oaShopOptions))
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(parsed)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		method, target, body string
		ok                   bool
	}{
		{"GET", "/v1/users/1", "", true},
		{"GET", "/v1/users?pageSize=10&filter.role=ROLE_ADMIN&filter.country=FR", "", true},
		{"GET", "/v1/users?pageSize=ten", "", false},
		// An enum by number (open enums hold any); libopenapi-validator checks a query parameter by
		// its schema's type alone, which an open enum's anyOf has not: the bodies check the names.
		{"GET", "/v1/users?filter.role=7", "", true},
		{"GET", "/v1/users:batchGet?ids=1&ids=2", "", true},
		{"POST", "/v1/users", `{"name":"Grace Hopper","email":"grace@example.com","loyaltyPoints":"12"}`, true},
		{"POST", "/v1/users", `{"name":"Grace Hopper"}`, false}, // email is required
		{"POST", "/v1/users", `{"name":"Grace Hopper","email":"grace@example.com","role":"ROLE_ADMIN"}`, true},
		{"POST", "/v1/users", `{"name":"Grace Hopper","email":"grace@example.com","role":7}`, true},
		{"POST", "/v1/users", `{"name":"Grace Hopper","email":"grace@example.com","role":"ROLE_KING"}`, false},
		{"POST", "/v1/users", `{"name":"Grace Hopper","email":"grace@example.com","role":1.5}`, false},
		{"POST", "/v1/users", `{"name":"Grace Hopper","email":"grace@example.com","role":"7"}`, false},
		{"PATCH", "/v1/users/1?updateMask=name,email", `{"name":"Ada","email":"ada@example.com"}`, true},
		// The update_mask from the body's keys: any of the fields, at any depth, but of their types.
		{"PATCH", "/v1/users/1", `{"nickname":"Countess"}`, true},
		{"PATCH", "/v1/users/1", `{"address":{"city":"Paris"},"role":"ROLE_ADMIN"}`, true},
		{"PATCH", "/v1/users/1", `{"nickname":5}`, false},
		{"PATCH", "/v1/users/1", `{"address":{"city":1}}`, false},
		{"POST", "/v1/orders", `{"userId":"1","items":[{"productId":"p1","quantity":2}],"voucherCode":"X","notes":{"a":"b"},"deliveryEstimate":"3600s"}`, true},
		{"POST", "/v1/orders", `{"userId":"1","items":{"productId":"p1"}}`, false},
		{"POST", "/v1/orders", `{"userId":"1","giftMessage":null,"card":{"expMonth":"May"}}`, false},
		// Not "/v1/orders/o1:cancel": the validator's router takes it for "/v1/orders/{id}", which has
		// no POST, though OpenAPI lets a template be part of a segment, as "{id}:cancel" is.
		{"GET", "/v1/users/1/orders?status=ORDER_STATUS_PAID", "", true},
		{"GET", "/v1/products/p1?readMask=name,price", "", true},
		{"GET", "/v1/products/p1/inventory:watch?interval=0.5s", "", true},
		{"GET", "/v1/products?category=CATEGORY_BOOKS", "", true},
		{"DELETE", "/v1/users/1", "", false},
	} {
		req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		ok, verrs := v.ValidateHttpRequest(req)
		if ok != tc.ok {
			t.Errorf("%s %s %s: valid = %v, want %v: %v", tc.method, tc.target, tc.body, ok, tc.ok, verrs)
		}
	}
}

func TestOpenAPIYAML(t *testing.T) {
	doc := oaGenerate(t, oaFeatures(t), transcoder.OpenAPIOptions{IncludeUnbound: true})
	y, err := transcoder.OpenAPIYAML(doc)
	if err != nil {
		t.Fatal(err)
	}
	// The same document ...
	var fromYAML any
	if err := yaml.Unmarshal(y, &fromYAML); err != nil {
		t.Fatal(err)
	}
	viaJSON, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(viaJSON, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(doc, &b); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.MarshalIndent(a, "", " ")
	jb, _ := json.MarshalIndent(b, "", " ")
	if !bytes.Equal(ja, jb) {
		t.Errorf("the YAML says something else than the JSON:\n%s", oaFirstDiff(jb, ja))
	}
	// ... in the same order, in block style, strings quoted only where YAML needs it.
	for _, want := range []string{"openapi: 3.1.0\ninfo:\n  title: API\n", "'@type':", "version: 0.0.0", "type: string\n", "- \"null\"\n", "enum:\n"} {
		if !bytes.Contains(y, []byte(want)) {
			t.Errorf("YAML lacks %q", want)
		}
	}
	if _, err := transcoder.OpenAPIYAML([]byte("{")); err == nil {
		t.Error("no error for a document that is not JSON")
	}
	parsed, err := libopenapi.NewDocument(y)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := validator.NewValidator(parsed)
	if ok, errs := v.ValidateDocument(); !ok {
		t.Errorf("YAML document is not valid: %v", errs)
	}
}

func ExampleOpenAPI() {
	users := usersv1.File_shop_users_v1_users_proto.Services().Get(0)
	doc, omitted, err := transcoder.OpenAPI([]protoreflect.ServiceDescriptor{users}, transcoder.OpenAPIOptions{Title: "Users", Version: "1"})
	if err != nil || len(omitted) > 0 {
		panic(fmt.Sprint(err, omitted))
	}
	var parsed struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		panic(err)
	}
	var lines []string
	for path, item := range parsed.Paths {
		for method, op := range item {
			lines = append(lines, fmt.Sprintf("%-6s %-20s %s", strings.ToUpper(method), path, op.OperationID))
		}
	}
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// GET    /v1/users            UserService_ListUsers
	// GET    /v1/users/{id}       UserService_GetUser
	// GET    /v1/users:batchGet   UserService_BatchGetUsers
	// PATCH  /v1/users/{id}       UserService_UpdateUser
	// POST   /v1/users            UserService_CreateUser
}

// synthServicesWithLegacies returns the synth services and the proto2 synth.v1.Legacies.
func synthServicesWithLegacies(t *testing.T) []protoreflect.ServiceDescriptor {
	t.Helper()
	files, err := synthFiles()
	if err != nil {
		t.Fatal(err)
	}
	legacies, err := files.FindDescriptorByName("synth.v1.Legacies")
	if err != nil {
		t.Fatal(err)
	}
	return append(synthServices(t), legacies.(protoreflect.ServiceDescriptor))
}

// The document admits what the front writes: an open enum's value the registered descriptor does
// not know goes out as its number, and the enum's schema takes numbers; a closed enum's field is
// only ever written by name (unset, by its default), and its schema takes names only.
func TestOpenAPIEnumNumbers(t *testing.T) {
	services := synthServicesWithLegacies(t)
	doc := oaGenerate(t, services, transcoder.OpenAPIOptions{})
	m := oaValidate(t, doc)
	for ptr, want := range map[string]any{
		"/components/schemas/synth.v1.Color/anyOf/0/type":   "string",
		"/components/schemas/synth.v1.Color/anyOf/0/enum/1": "RED",
		"/components/schemas/synth.v1.Color/anyOf/1/type":   "integer",
		"/components/schemas/synth.v1.Color/anyOf/1/format": "int32",
		"/components/schemas/synth.v1.Mood/type":            "string",
		"/components/schemas/synth.v1.Mood/enum/0":          "CALM",
	} {
		if got, err := oaPointer(m, ptr); err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v", ptr, got, err, want)
		}
	}
	if d, _ := oaPointer(m, "/components/schemas/synth.v1.Color/anyOf/1/description"); !strings.Contains(fmt.Sprint(d), "newer than the registered descriptor") {
		t.Errorf("the number of an open enum is described as %q", d)
	}
	if v, err := oaPointer(m, "/components/schemas/synth.v1.Mood/anyOf"); err == nil {
		t.Errorf("a closed enum admits %v", v)
	}

	h := synthHandler(t, "")
	for _, tc := range []struct{ target, want string }{
		{"/v1/kitchen?color=7&inner.color=RED&colors=8&colors=GREEN", `{"color":7,"colors":[8,"GREEN"],"inner":{"color":"RED"}}`},
		{"/v1/legacy/x:mood", `"CALM"`},
		{"/v1/legacy/x:grumpy", `"GRUMPY"`},
	} {
		body, refused := oaAnswer(t, doc, h, tc.target)
		wantJSON(t, body, tc.want)
		for _, e := range refused {
			t.Errorf("%s answers %s, which the document does not admit: %s", tc.target, body, e)
		}
	}
}

// With WithEmitUnpopulated the front writes an unset field with explicit presence outside a oneof
// (a proto2 scalar, a singular message or group) as null, as protojson does; a document built with
// EmitUnpopulated admits it, one built without does not.
func TestOpenAPIEmitUnpopulated(t *testing.T) {
	services := synthServicesWithLegacies(t)
	doc := oaGenerate(t, services, transcoder.OpenAPIOptions{EmitUnpopulated: true})
	m := oaValidate(t, doc)
	const legacy, kitchen = "/components/schemas/synth.v1.Legacy/properties/", "/components/schemas/synth.v1.Kitchen/properties/"
	for ptr, want := range map[string]any{
		legacy + "a/type/1":            "null",
		legacy + "s/type/1":            "null",
		legacy + "mood/anyOf/0/$ref":   "#/components/schemas/synth.v1.Mood",
		legacy + "mood/anyOf/1/type":   "null",
		legacy + "blob/anyOf/1/type":   "null",
		legacy + "moods/type":          "array", // lists and maps are written empty, never null
		legacy + "byName/type":         "object",
		legacy + "b/type/1":            "null",   // required, but an upstream may leave it unset
		kitchen + "id/type":            "string", // no presence: written as ""
		kitchen + "inner/anyOf/1/type": "null",
		kitchen + "at/type/1":          "null",
		kitchen + "maybe/type/1":       "null", // a wrapper, nullable as always
	} {
		if got, err := oaPointer(m, ptr); err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v", ptr, got, err, want)
		}
	}

	h := synthHandler(t, "", transcoder.WithEmitUnpopulated())
	for _, tc := range []struct{ target, want string }{
		{"/v1/legacies/x", `{"b":"x","a":null,"mood":null,"s":null,"blob":null,"moods":[],"byName":{},"grumpy":null}`},
		{"/v1/kitchen?id=k", `{"id":"k","inner":null,"at":null,"maybe":null,"small":0,"tags":[]}`},
		{"/v1/legacy/x:s", `"dflt"`},
	} {
		body, refused := oaAnswer(t, doc, h, tc.target)
		wantJSON(t, body, tc.want)
		for _, e := range refused {
			t.Errorf("%s answers %s, which the document does not admit: %s", tc.target, body, e)
		}
	}
	plain := oaGenerate(t, services, transcoder.OpenAPIOptions{})
	if body, refused := oaAnswer(t, plain, h, "/v1/legacies/x"); len(refused) == 0 {
		t.Errorf("a document built without EmitUnpopulated admits %s", body)
	}
}

// oaAnswer answers a GET of target with h and returns the body and why doc does not admit the
// request and response, if it does not.
func oaAnswer(t *testing.T, doc []byte, h http.Handler, target string) (body []byte, refused []string) {
	t.Helper()
	w, refused := oaExchange(t, doc, h, "GET", target, "", "")
	return w.Body.Bytes(), refused
}

// oaExchange has h answer a request (a body labelled contentType when body is not empty), which
// must succeed, and returns the response and why doc does not admit the request and response, if
// it does not.
func oaExchange(t *testing.T, doc []byte, h http.Handler, method, target, contentType, body string) (*httptest.ResponseRecorder, []string) {
	t.Helper()
	parsed, err := libopenapi.NewDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(parsed)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	w := call(h, method, target, body, "Content-Type", "", "Content-Type", contentType) // in place of call's JSON
	if w.Code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
	}
	var reqBody io.Reader
	if body != "" {
		reqBody = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, reqBody)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	var refused []string
	if ok, verrs := v.ValidateHttpRequestResponse(req, w.Result()); !ok {
		for _, e := range verrs {
			why := e.Message + ": " + e.Reason
			for _, se := range e.SchemaValidationErrors {
				why += "; " + se.FieldPath + ": " + se.Reason
			}
			refused = append(refused, why)
		}
	}
	return w, refused
}

// The front writes and reads the floats JSON has no number for as "NaN", "Infinity" and
// "-Infinity", as protojson does: a float's schema admits them beside numbers, in requests and
// responses, and as a declared default.
func TestOpenAPIFloats(t *testing.T) {
	doc := oaGenerate(t, synthServicesWithLegacies(t), transcoder.OpenAPIOptions{})
	m := oaValidate(t, doc)
	if got, _ := oaPointer(m, "/components/schemas/synth.v1.Legacy/properties/ratio/default"); got != "Infinity" {
		t.Errorf("the default of ratio is %v, want Infinity", got)
	}
	h := synthHandler(t, "")
	for _, tc := range []struct{ method, target, body, want string }{
		{"GET", "/v1/kitchen?ratio=NaN&fratio=-Infinity&ds=Infinity&ds=1.5", "", `{"ratio":"NaN","fratio":"-Infinity","ds":["Infinity",1.5]}`},
		{"POST", "/v1/kitchen", `{"ratio":"-Infinity","fratio":0.5,"ds":["NaN",2]}`, `{"ratio":"-Infinity","fratio":0.5,"ds":["NaN",2]}`},
		{"GET", "/v1/legacy/x:ratio", "", `"Infinity"`},
	} {
		contentType := ""
		if tc.body != "" {
			contentType = "application/json"
		}
		w, refused := oaExchange(t, doc, h, tc.method, tc.target, contentType, tc.body)
		wantJSON(t, w.Body.Bytes(), tc.want)
		for _, e := range refused {
			t.Errorf("%s %s %s: the document does not admit the exchange: %s", tc.method, tc.target, tc.body, e)
		}
	}
}

// A proto2 field's declared default is its schema's default, written as the front writes the value
// for the unset field that response_body names.
func TestOpenAPIDefaults(t *testing.T) {
	m := oaValidate(t, oaGenerate(t, synthServicesWithLegacies(t), transcoder.OpenAPIOptions{}))
	h := synthHandler(t, "")
	const props = "/components/schemas/synth.v1.Legacy/properties/"
	for field, want := range map[string]string{
		"s": `"dflt"`, "n": `42`, "big": `"-7"`, "on": `true`, "raw": `"aGk="`, "ratio": `"Infinity"`, "grumpy": `"GRUMPY"`,
	} {
		got, err := oaPointer(m, props+field+"/default")
		if err != nil {
			t.Errorf("%s: no default: %v", field, err)
			continue
		}
		if js, _ := json.Marshal(got); string(js) != want {
			t.Errorf("%s: default %s, want %s", field, js, want)
		}
		w := call(h, "GET", "/v1/legacy/x:"+field, "")
		wantJSON(t, w.Body.Bytes(), want)
	}
	for _, field := range []string{"a", "mood", "moods"} {
		if v, err := oaPointer(m, props+field+"/default"); err == nil {
			t.Errorf("%s, without a declared default, has default %v", field, v)
		}
	}
}

// oaHTTPBodyProto takes and gives google.api.HttpBody every way a binding can: as the request or
// its body field, as the response or its response_body field, streamed each way.
const oaHTTPBodyProto = `syntax = "proto3";
package files.v1;

import "google/api/annotations.proto";
import "google/api/httpbody.proto";

service Files {
  rpc Put(google.api.HttpBody) returns (google.api.HttpBody) {
    option (google.api.http) = {post: "/v1/files" body: "*"};
  }
  rpc Get(GetRequest) returns (google.api.HttpBody) {
    option (google.api.http) = {get: "/v1/files/{name}"};
  }
  rpc Attach(AttachRequest) returns (Attachment) {
    option (google.api.http) = {put: "/v1/files/{name}/attachment" body: "file" response_body: "file"};
  }
  rpc Tail(GetRequest) returns (stream google.api.HttpBody) {
    option (google.api.http) = {get: "/v1/files/{name}:tail"};
  }
  rpc Append(stream google.api.HttpBody) returns (Attachment) {
    option (google.api.http) = {post: "/v1/files:append" body: "*"};
  }
  rpc Edit(stream google.api.HttpBody) returns (stream google.api.HttpBody) {
    option (google.api.http) = {post: "/v1/files:edit" body: "*"};
  }
}

message GetRequest { string name = 1; }
message AttachRequest {
  string name = 1;
  google.api.HttpBody file = 2;
  bool overwrite = 3;
}
message Attachment {
  string name = 1;
  google.api.HttpBody file = 2;
}
`

// A google.api.HttpBody travels as raw bytes, not as the message's JSON: the document gives such a
// request body, response or response stream (a bidi stream's too) as bytes of any media type, and
// requests and responses as the front exchanges them validate against it. In a stream of JSON
// request messages (a client or bidi stream's body) an HttpBody is JSON like any message.
func TestOpenAPIHttpBody(t *testing.T) {
	files, err := registry.FilesFromProtos(t.Context(), map[string]string{"files/v1/files.proto": oaHTTPBodyProto}, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := files.FindDescriptorByName("files.v1.Files")
	if err != nil {
		t.Fatal(err)
	}
	m := oaValidate(t, oaGenerate(t, []protoreflect.ServiceDescriptor{svc.(protoreflect.ServiceDescriptor)}, transcoder.OpenAPIOptions{}))
	const raw = "/content/*~1*/schema/format"
	for ptr, want := range map[string]any{
		"/paths/~1v1~1files/post/requestBody" + raw:                                            "binary",
		"/paths/~1v1~1files/post/responses/200" + raw:                                          "binary",
		"/paths/~1v1~1files~1{name}/get/responses/200" + raw:                                   "binary",
		"/paths/~1v1~1files~1{name}~1attachment/put/requestBody" + raw:                         "binary",
		"/paths/~1v1~1files~1{name}~1attachment/put/parameters/1/name":                         "overwrite",
		"/paths/~1v1~1files~1{name}~1attachment/put/responses/200" + raw:                       "binary",
		"/paths/~1v1~1files~1{name}:tail/get/responses/200" + raw:                              "binary",
		"/paths/~1v1~1files:append/post/requestBody/content/application~1x-ndjson/schema/$ref": "#/components/schemas/google.api.HttpBody",
		"/paths/~1v1~1files:append/post/responses/200/content/application~1json/schema/$ref":   "#/components/schemas/files.v1.Attachment",
		"/paths/~1v1~1files:edit/post/requestBody/content/application~1x-ndjson/schema/$ref":   "#/components/schemas/google.api.HttpBody",
		"/paths/~1v1~1files:edit/post/responses/200" + raw:                                     "binary",
	} {
		if got, err := oaPointer(m, ptr); err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v", ptr, got, err, want)
		}
	}
	for _, ptr := range []string{
		"/paths/~1v1~1files/post/requestBody/content/application~1json",
		"/paths/~1v1~1files/post/responses/200/content/application~1json",
		"/paths/~1v1~1files~1{name}:tail/get/responses/200/content/application~1x-ndjson",
	} {
		if v, err := oaPointer(m, ptr); err == nil {
			t.Errorf("%s = %v: an HttpBody described as JSON", ptr, v)
		}
	}

	doc := oaGenerate(t, synthServices(t), transcoder.OpenAPIOptions{})
	h := synthHandler(t, "")
	for _, tc := range []struct{ method, target, contentType, body, wantType, want string }{
		{"POST", "/v1/upload", "text/csv", "name,count\nx,1\n", "text/csv", "name,count\nx,1\n"},
		{"POST", "/v1/upload", "image/png", "\x89PNG\r\n\x1a\n\x00", "image/png", "\x89PNG\r\n\x1a\n\x00"},
		{"GET", "/v1/download/report", "", "", "application/octet-stream", ""},
	} {
		w, refused := oaExchange(t, doc, h, tc.method, tc.target, tc.contentType, tc.body)
		if ct := w.Header().Get("Content-Type"); ct != tc.wantType || w.Body.String() != tc.want {
			t.Errorf("%s %s: %s %q, want %s %q", tc.method, tc.target, ct, w.Body, tc.wantType, tc.want)
		}
		for _, e := range refused {
			t.Errorf("%s %s (%s): the document does not admit the exchange: %s", tc.method, tc.target, tc.contentType, e)
		}
	}
}

// collideProto binds templates that OpenAPI would write as one path, /v1/{name}, though they match
// different requests: the common Google API resource names.
const collideProto = `syntax = "proto3";
package collide.v1;
import "google/api/annotations.proto";
service Things {
  rpc GetPublic(Req) returns (Req) { option (google.api.http) = {get: "/v1/{name=public/**}"}; }
  rpc GetSecret(Req) returns (Req) { option (google.api.http) = {get: "/v1/{name=secret/**}"}; }
  rpc GetProject(Req) returns (Req) {
    option (google.api.http) = {get: "/v1/{name=projects/*}" additional_bindings {get: "/v1/{name=organizations/*/teams/*}"}};
  }
  rpc DeleteThing(Req) returns (Req) { option (google.api.http) = {delete: "/v1/{name=things/*}"}; }
  rpc GetBook(Req) returns (Req) { option (google.api.http) = {get: "/v2/{name=shelves/*/books/*}"}; }
  rpc GetAuthor(Req) returns (Req) { option (google.api.http) = {get: "/v2/{name=shelves/*/authors/*}"}; }
}
message Req { string name = 1; }
`

func collideServices(t *testing.T) []protoreflect.ServiceDescriptor {
	t.Helper()
	files, err := registry.FilesFromProtos(t.Context(), map[string]string{"collide.proto": collideProto}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName("collide.v1.Things")
	if err != nil {
		t.Fatal(err)
	}
	return []protoreflect.ServiceDescriptor{d.(protoreflect.ServiceDescriptor)}
}

const tailsProto = `
syntax = "proto3";
package tails.v1;
import "google/api/annotations.proto";
service Tails {
  rpc GetAny(Req) returns (Req) { option (google.api.http) = {get: "/v1/{name=**}"}; }
  rpc GetFile(Req) returns (Req) { option (google.api.http) = {get: "/v2/{name=files/**}"}; }
  rpc GetPage(Req) returns (Req) { option (google.api.http) = {get: "/v3/{name=books/*/pages/**}"}; }
  rpc GetUnnamed(Req) returns (Req) { option (google.api.http) = {get: "/v4/**"}; }
}
message Req { string name = 1; }
`

// The pattern of a path parameter taking a "**" admits exactly the values the router binds to
// it: segments none of which is empty, so no trailing or doubled slash; and at least one where
// the "**" is all of the parameter, since an empty value would leave the path a trailing slash.
func TestOpenAPIDoubleWildcardPatterns(t *testing.T) {
	files, err := registry.FilesFromProtos(t.Context(), map[string]string{"tails.proto": tailsProto}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName("tails.v1.Tails")
	if err != nil {
		t.Fatal(err)
	}
	services := []protoreflect.ServiceDescriptor{d.(protoreflect.ServiceDescriptor)}
	doc := oaValidate(t, oaGenerate(t, services, transcoder.OpenAPIOptions{}))
	rt, err := transcoder.NewRouter(services)
	if err != nil {
		t.Fatal(err)
	}
	values := []string{"a", "a/b", "a/b/c", "files", "files/a", "files/a/b", "books/b/pages", "books/b/pages/1/2",
		"", "/", "a/", "/a", "a//b", "files/", "files//a", "files/a/", "filesx", "books//pages/1", "books/b/pages/"}
	for _, tc := range []struct{ path, param, method, pattern string }{
		{"/v1/{name}", "name", "GetAny", "^[^/]+(/[^/]+)*$"},
		{"/v2/{name}", "name", "GetFile", "^files(/[^/]+)*$"},
		{"/v3/{name}", "name", "GetPage", "^books/[^/]+/pages(/[^/]+)*$"},
		{"/v4/{wildcard-1}", "", "GetUnnamed", "^[^/]+(/[^/]+)*$"},
	} {
		ptr := "/paths/" + strings.ReplaceAll(tc.path, "/", "~1") + "/get/parameters/0/schema/pattern"
		pattern, err := oaPointer(doc, ptr)
		if pattern != tc.pattern {
			t.Errorf("%s: pattern %v (%v), want %q", tc.path, pattern, err, tc.pattern)
			continue
		}
		re := regexp.MustCompile(tc.pattern)
		for _, v := range values {
			target := tc.path[:strings.IndexByte(tc.path, '{')] + v
			var params transcoder.Params
			b, err := rt.Lookup(http.MethodGet, target, false, &params)
			routed := err == nil && string(b.Method().Name()) == tc.method
			if routed && tc.param != "" {
				name, _ := params.Value(b, 0)
				routed = name == v
			}
			if re.MatchString(v) != routed {
				t.Errorf("%s with %q: the pattern admits it %v, the router binds it %v", tc.path, v, re.MatchString(v), routed)
			}
		}
	}
}

// Templates whose OpenAPI paths would differ only in parameter names, with the same HTTP method,
// are written with their variables' literal prefixes in the path, each parameter saying what the
// field it sets then is; a template no other collides with keeps its path. One that still collides
// is left out alone, said so, and the rest of the document is written.
func TestOpenAPICollidingTemplates(t *testing.T) {
	services := collideServices(t)
	raw, omitted, err := transcoder.OpenAPI(services, transcoder.OpenAPIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(omitted) != 1 || !strings.Contains(omitted[0].Error(), "method collide.v1.Things.GetAuthor: binding 0: GET /v2/{name=shelves/*/authors/*}") {
		t.Errorf("omitted = %v, want GetAuthor's binding alone", omitted)
	}
	doc := oaValidate(t, raw)
	rt, err := transcoder.NewRouter(services)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path, opID string
		prefix, pattern    string // the literals the path holds of the variable; the parameter's pattern
		value, calls       string // a value of the parameter, and the method a request with it calls
	}{
		{"get", "/v1/public/{name}", "Things_GetPublic", "public/", "^[^/]+(/[^/]+)*$", "a", "GetPublic"},
		{"get", "/v1/secret/{name}", "Things_GetSecret", "secret/", "^[^/]+(/[^/]+)*$", "a", "GetSecret"},
		{"get", "/v1/projects/{name}", "Things_GetProject", "projects/", "", "p", "GetProject"},
		{"get", "/v1/organizations/{name}", "Things_GetProject_2", "organizations/", "^[^/]+/teams/[^/]+$", "o/teams/t", "GetProject"},
		{"delete", "/v1/{name}", "Things_DeleteThing", "", "^things/[^/]+$", "things/t", "DeleteThing"}, // no other DELETE
		{"get", "/v2/shelves/{name}", "Things_GetBook", "shelves/", "^[^/]+/books/[^/]+$", "s/books/b", "GetBook"},
	} {
		op := "/paths/" + strings.ReplaceAll(tc.path, "/", "~1") + "/" + tc.method
		if got, err := oaPointer(doc, op+"/operationId"); got != tc.opID {
			t.Errorf("%s %s: operationId %v (%v), want %s", tc.method, tc.path, got, err, tc.opID)
			continue
		}
		desc, _ := oaPointer(doc, op+"/parameters/0/description")
		if says := "`name` is `" + tc.prefix + "` followed by this value."; tc.prefix != "" && !strings.Contains(desc.(string), says) {
			t.Errorf("%s %s: parameter description %q does not say %q", tc.method, tc.path, desc, says)
		}
		pattern, _ := oaPointer(doc, op+"/parameters/0/schema/pattern")
		if want := any(tc.pattern); tc.pattern == "" && pattern != nil || tc.pattern != "" && pattern != want {
			t.Errorf("%s %s: pattern %v, want %q", tc.method, tc.path, pattern, tc.pattern)
		}
		// A request as the document has a client send it calls the operation's method with the
		// whole name.
		var params transcoder.Params
		target := strings.Replace(tc.path, "{name}", tc.value, 1)
		b, err := rt.Lookup(strings.ToUpper(tc.method), target, false, &params)
		if err != nil {
			t.Errorf("%s %s: %v", tc.method, target, err)
			continue
		}
		if name, _ := params.Value(b, 0); string(b.Method().Name()) != tc.calls || name != tc.prefix+tc.value {
			t.Errorf("%s %s calls %s with name %q, want %s with %q", tc.method, target, b.Method().Name(), name, tc.calls, tc.prefix+tc.value)
		}
	}
}
