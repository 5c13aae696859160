package registry_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/transcoder"
)

func TestFilesFromProtosShop(t *testing.T) {
	files, err := registry.FilesFromProtos(t.Context(), shopSources(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	getUser := findMethod(t, files, "shop.users.v1.UserService.GetUser")
	rules, err := transcoder.HTTPRules(getUser)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].GetGet() != "/v1/users/{id}" {
		t.Errorf("GetUser rules = %v, want GET /v1/users/{id}", rules)
	}
	// Options are typed, as for an uploaded set: proto.GetExtension does not panic.
	if rule := proto.GetExtension(getUser.Options(), annotations.E_Http).(*annotations.HttpRule); rule.GetGet() != "/v1/users/{id}" {
		t.Errorf("GetExtension = %v", rule)
	}
	// Comments survive as source info.
	loc := getUser.ParentFile().SourceLocations().ByDescriptor(getUser)
	if got := strings.TrimSpace(loc.LeadingComments); got != "GetUser returns one user by id." {
		t.Errorf("GetUser comment = %q", got)
	}
	// The google files are the linked copies.
	for _, p := range []string{"google/api/annotations.proto", "google/protobuf/timestamp.proto"} {
		fd, err := files.FindFileByPath(p)
		if linked, _ := protoregistry.GlobalFiles.FindFileByPath(p); err != nil || fd != linked {
			t.Errorf("%s is not the linked copy (%v)", p, err)
		}
	}
	// Apart from source info, the compiled files are the generated ones, which protoc made.
	for _, gen := range shopFiles {
		fd, err := files.FindFileByPath(gen.Path())
		if err != nil {
			t.Fatal(err)
		}
		got := protodesc.ToFileDescriptorProto(fd)
		if got.SourceCodeInfo == nil {
			t.Errorf("%s: no source info", gen.Path())
		}
		got.SourceCodeInfo = nil
		if want := protodesc.ToFileDescriptorProto(gen); !proto.Equal(got, want) {
			t.Errorf("%s: compiled descriptor differs from the generated one", gen.Path())
		}
	}
}

// This repository keeps trimmed copies of google/api files under proto/; sent along, they give way to
// the gateway's copies.
func TestFilesFromProtosOwnGoogleFiles(t *testing.T) {
	sources := shopSources(t)
	for _, p := range []string{"google/api/annotations.proto", "google/api/http.proto", "google/api/field_behavior.proto"} {
		data, err := os.ReadFile(filepath.Join(protoRoot, p))
		if err != nil {
			t.Fatal(err)
		}
		sources[p] = string(data)
	}
	files, err := registry.FilesFromProtos(t.Context(), sources, []string{"shop/users/v1/users.proto"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"google/api/annotations.proto", "google/api/http.proto", "google/api/field_behavior.proto"} {
		fd, err := files.FindFileByPath(p)
		if linked, _ := protoregistry.GlobalFiles.FindFileByPath(p); err != nil || fd != linked {
			t.Errorf("%s: the sent copy was kept", p)
		}
	}
	if rules, err := transcoder.HTTPRules(findMethod(t, files, "shop.users.v1.UserService.GetUser")); err != nil || len(rules) != 1 {
		t.Errorf("HTTPRules = %v, %v", rules, err)
	}
}

// A backend's vendored older grpc/health/v1/health.proto, sent along, gives way to the gateway's copy:
// the gateway answers grpc.health.v1 itself.
func TestFilesFromProtosOwnHealthFile(t *testing.T) {
	sources := map[string]string{
		"grpc/health/v1/health.proto": `syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; }
  ServingStatus status = 1;
}
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }
`,
		"acme/h/v1/h.proto": `syntax = "proto3";
package acme.h.v1;
import "grpc/health/v1/health.proto";
service H { rpc Status(grpc.health.v1.HealthCheckRequest) returns (grpc.health.v1.HealthCheckResponse); }
`,
	}
	files, err := registry.FilesFromProtos(t.Context(), sources, nil)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := files.FindFileByPath("grpc/health/v1/health.proto")
	if linked, _ := protoregistry.GlobalFiles.FindFileByPath("grpc/health/v1/health.proto"); err != nil || fd != linked {
		t.Fatal("the sent copy of grpc/health/v1/health.proto was kept")
	}
	if fd.Services().ByName("Health").Methods().ByName("Watch") == nil {
		t.Error("grpc.health.v1.Health has no Watch")
	}
}

func TestFilesFromProtosEntryPoints(t *testing.T) {
	files, err := registry.FilesFromProtos(t.Context(), shopSources(t), []string{"shop/orders/v1/orders.proto"})
	if err != nil {
		t.Fatal(err)
	}
	got := slices.DeleteFunc(paths(files), func(p string) bool { return strings.HasPrefix(p, "google/") })
	if want := []string{"shop/common/v1/money.proto", "shop/orders/v1/orders.proto"}; !slices.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
}

func TestFilesFromProtosErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		sources     map[string]string
		entryPoints []string
		want        []string // error lines, as regular expressions
	}{{
		name:    "syntax error",
		sources: map[string]string{"bad.proto": "syntax = \"proto3\";\n\nmessage A {\n  string a = 1\n}\n"},
		want:    []string{`bad\.proto:5:1: syntax error: .*`},
	}, {
		name:    "missing import",
		sources: map[string]string{"foo.proto": "syntax = \"proto3\";\n\nimport \"missing.proto\";\n"},
		want:    []string{`foo\.proto:3:8: import "missing\.proto": not found`},
	}, {
		name: "unknown types, all reported in order",
		sources: map[string]string{"foo.proto": "syntax = \"proto3\";\n\nmessage A {\n  Nada b = 2;\n  Nope a = 1;\n}\n" +
			"message C {\n  Zilch c = 1;\n}\n"},
		want: []string{`foo\.proto:4:3: field A\.b: unknown type Nada`, `foo\.proto:5:3: field A\.a: unknown type Nope`, `foo\.proto:8:3: field C\.c: unknown type Zilch`},
	}, {
		name: "errors in two files",
		sources: map[string]string{
			"b.proto": "syntax = \"proto3\";\nmessage B {\n  Zip z = 1;\n}\n",
			"a.proto": "syntax = \"proto3\";\nmessage A {\n  Zap z = 1;\n}\n",
		},
		want: []string{`a\.proto:3:3: field A\.z: unknown type Zap`, `b\.proto:3:3: field B\.z: unknown type Zip`},
	}, {
		name:        "unknown entry point",
		sources:     map[string]string{"a.proto": "syntax = \"proto3\";\n"},
		entryPoints: []string{"b.proto"},
		want:        []string{`proto sources: entry point "b\.proto" is not among the sources`},
	}, {
		name: "no sources",
		want: []string{`proto sources: none given`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := registry.FilesFromProtos(t.Context(), tc.sources, tc.entryPoints)
			if err == nil {
				t.Fatalf("no error; files = %q", paths(files))
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("error:\n%v\nwant %d lines", err, len(tc.want))
			}
			for i, re := range tc.want {
				if !regexp.MustCompile("^" + re + "$").MatchString(lines[i]) {
					t.Errorf("line %d = %q\nwant %s", i+1, lines[i], re)
				}
			}
		})
	}
}

func TestFilesFromProtosCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := registry.FilesFromProtos(ctx, shopSources(t), nil); err == nil {
		t.Error("no error from a canceled context")
	}
}

func TestCollectProtoSources(t *testing.T) {
	shop := shopSources(t)
	root, err := filepath.Abs("testdata/sources/root")
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	for _, tc := range []struct {
		name        string
		chdir       string
		files       []string
		importPaths []string
		wantEntry   []string
		want        map[string]string
	}{{
		name:        "file under the import path",
		files:       []string{filepath.Join(protoRoot, "shop/orders/v1/orders.proto")},
		importPaths: []string{protoRoot},
		wantEntry:   []string{"shop/orders/v1/orders.proto"},
		want:        map[string]string{"shop/orders/v1/orders.proto": shop["shop/orders/v1/orders.proto"], "shop/common/v1/money.proto": shop["shop/common/v1/money.proto"]},
	}, {
		name:        "path relative to the import path",
		files:       []string{"shop/users/v1/users.proto"},
		importPaths: []string{protoRoot},
		wantEntry:   []string{"shop/users/v1/users.proto"},
		want:        map[string]string{"shop/users/v1/users.proto": shop["shop/users/v1/users.proto"]},
	}, {
		name:        "two files, one named twice",
		files:       []string{filepath.Join(protoRoot, "shop/users/v1/users.proto"), "shop/catalog/v1/catalog.proto", "shop/users/v1/users.proto"},
		importPaths: []string{"testdata/sources/root", protoRoot},
		wantEntry:   []string{"shop/users/v1/users.proto", "shop/catalog/v1/catalog.proto"},
		want: map[string]string{
			"shop/users/v1/users.proto": shop["shop/users/v1/users.proto"], "shop/catalog/v1/catalog.proto": shop["shop/catalog/v1/catalog.proto"],
			"shop/common/v1/money.proto": shop["shop/common/v1/money.proto"],
		},
	}, {
		name:      "no import path: the current directory",
		chdir:     "testdata/sources/root",
		files:     []string{"acme/greeter/v1/greeter.proto"},
		wantEntry: []string{"acme/greeter/v1/greeter.proto"},
		want: map[string]string{
			"acme/greeter/v1/greeter.proto": read("testdata/sources/root/acme/greeter/v1/greeter.proto"),
			"acme/common/v1/types.proto":    read("testdata/sources/root/acme/common/v1/types.proto"),
		},
	}, {
		name:        "file under no import path: its base name",
		files:       []string{"testdata/sources/loose/lonely.proto"},
		importPaths: []string{root},
		wantEntry:   []string{"lonely.proto"},
		want: map[string]string{
			"lonely.proto":               read("testdata/sources/loose/lonely.proto"),
			"acme/common/v1/types.proto": read("testdata/sources/root/acme/common/v1/types.proto"),
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.chdir != "" {
				t.Chdir(tc.chdir)
			}
			sources, entry, err := registry.CollectProtoSources(tc.files, tc.importPaths)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(entry, tc.wantEntry) {
				t.Errorf("entry points = %q, want %q", entry, tc.wantEntry)
			}
			if !maps.Equal(sources, tc.want) {
				t.Errorf("sources = %q, want %q", slices.Sorted(maps.Keys(sources)), slices.Sorted(maps.Keys(tc.want)))
			}
			// What was collected is all the gateway needs.
			if _, err := registry.FilesFromProtos(t.Context(), sources, entry); err != nil {
				t.Errorf("collected sources do not compile: %v", err)
			}
		})
	}
}

func TestCollectProtoSourcesErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		files       []string
		importPaths []string
		want        string
	}{
		{"no files", nil, nil, "no .proto files given"},
		{"missing file", []string{"nope.proto"}, []string{protoRoot}, `proto file "nope.proto": not found`},
		{"a directory", []string{"testdata"}, nil, `proto file "testdata": not found`},
		{"compile errors", []string{"testdata/sources/broken/broken.proto"}, []string{"testdata/sources/root", "testdata/sources"},
			"broken/broken.proto:8:3: field broken.Broken.missing: unknown type Missing\n" +
				"broken/broken.proto:9:3: field broken.Broken.nope: unknown type acme.common.v1.Nope"},
		{"missing import", []string{"testdata/sources/loose/lonely.proto"}, []string{"testdata/sources/loose"},
			`lonely.proto:5:8: import "acme/common/v1/types.proto": not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := registry.CollectProtoSources(tc.files, tc.importPaths)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v\nwant    %s", err, tc.want)
			}
		})
	}
}

func FuzzFilesFromProtos(f *testing.F) {
	f.Add(shopSources(f)["shop/users/v1/users.proto"])
	f.Add("syntax = \"proto3\";\n\nmessage A {\n  string a = 1\n}\n")
	f.Add("syntax = \"proto2\";\npackage p;\nmessage A { optional group G = 1 { required int32 x = 2; } extensions 10 to 20; }\nextend A { optional string s = 10; }\n")
	f.Add("edition = \"2023\";\nimport \"google/protobuf/descriptor.proto\";\nextend google.protobuf.MethodOptions { string o = 50000; }\nservice S { rpc M(E) returns (E) { option (o) = \"x\"; } }\nmessage E {}\n")
	f.Add("syntax = \"proto3\";\nimport \"google/api/annotations.proto\";\nservice S { rpc M(E) returns (E) { option (google.api.http) = { get: \"/{a}\" additional_bindings { post: \"/b\" body: \"*\" } }; } }\nmessage E { string a = 1; }\n")
	f.Fuzz(func(t *testing.T, src string) {
		files, err := registry.FilesFromProtos(context.Background(), map[string]string{"fuzz.proto": src}, nil)
		if err != nil {
			return
		}
		if _, err := registry.DescriptorSetOf(files); err != nil {
			t.Fatal(err)
		}
		visitMethods(files, func(md protoreflect.MethodDescriptor) { _, _ = transcoder.HTTPRules(md) })
	})
}

func BenchmarkFilesFromProtos(b *testing.B) {
	sources := map[string]string{"shop/users/v1/users.proto": shopSources(b)["shop/users/v1/users.proto"]}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := registry.FilesFromProtos(context.Background(), sources, nil); err != nil {
			b.Fatal(err)
		}
	}
}
