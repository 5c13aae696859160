package registry_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionalphapb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	commonv1 "github.com/protogate/gateway/gen/shop/common/v1"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/transcoder"
)

func TestFilesFromDescriptorSet(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  *descriptorpb.FileDescriptorSet
	}{
		// orders and catalog import money.proto, so it is named too: no google file is in the set.
		{"without imports", descriptorSet(false, append(shopFiles, commonv1.File_shop_common_v1_money_proto)...)},
		{"with imports", descriptorSet(true, shopFiles...)},
		{"with imports, unsorted", shuffled(descriptorSet(true, shopFiles...), 1)},
		{"with imports, reversed", func() *descriptorpb.FileDescriptorSet {
			s := descriptorSet(true, shopFiles...)
			slices.Reverse(s.File)
			return s
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := registry.FilesFromDescriptorSet(marshal(t, tc.set))
			if err != nil {
				t.Fatal(err)
			}
			for _, svc := range []protoreflect.FullName{"shop.users.v1.UserService", "shop.orders.v1.OrderService", "shop.catalog.v1.CatalogService"} {
				if _, err := files.FindDescriptorByName(svc); err != nil {
					t.Errorf("%s: %v", svc, err)
				}
			}
			// The google files resolve to the gateway's linked copies, whether the set brought them or not.
			for _, p := range []string{"google/api/annotations.proto", "google/api/http.proto", "google/protobuf/descriptor.proto", "google/protobuf/timestamp.proto"} {
				fd, err := files.FindFileByPath(p)
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				if linked, _ := protoregistry.GlobalFiles.FindFileByPath(p); fd != linked {
					t.Errorf("%s is not the linked copy", p)
				}
			}
			// Options decode typed: the extension reads without the re-encoding detour.
			opts := findMethod(t, files, "shop.users.v1.UserService.GetUser").Options()
			if rule := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule); rule.GetGet() != "/v1/users/{id}" {
				t.Errorf("GetUser rule = %v", rule)
			}
		})
	}
}

func TestFilesFromDescriptorSetUsersOnly(t *testing.T) {
	files, err := registry.FilesFromDescriptorSet(marshal(t, descriptorSet(false, shopFiles[0])))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"google/api/annotations.proto", "google/api/field_behavior.proto", "google/api/http.proto",
		"google/protobuf/descriptor.proto", "google/protobuf/field_mask.proto", "google/protobuf/struct.proto",
		"google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto", "shop/users/v1/users.proto",
	}
	if got := paths(files); !slices.Equal(got, want) {
		t.Errorf("files = %q\nwant %q", got, want)
	}
}

func TestFilesFromDescriptorSetErrors(t *testing.T) {
	cyclic := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		{Name: proto.String("a.proto"), Dependency: []string{"b.proto"}},
		{Name: proto.String("b.proto"), Dependency: []string{"a.proto"}},
	}}
	users := descriptorSet(false, shopFiles[0]).File[0]
	changed := proto.CloneOf(users)
	changed.Package = proto.String("other")
	for _, tc := range []struct {
		name string
		data []byte
		want string // the whole message, or its start when it ends in "..."
	}{
		{"garbage", []byte("syntax = \"proto3\"; this is a .proto file, not a set"), "descriptor set: not a serialized google.protobuf.FileDescriptorSet: ..."},
		{"truncated", marshal(t, descriptorSet(false, shopFiles[0]))[:100], "descriptor set: not a serialized google.protobuf.FileDescriptorSet: ..."},
		{"empty", nil, "descriptor set: empty: it holds no files"},
		{"empty set", marshal(t, &descriptorpb.FileDescriptorSet{}), "descriptor set: empty: it holds no files"},
		{"a file, not a set", marshal(t, users), "descriptor set: not a serialized google.protobuf.FileDescriptorSet: ..."},
		{"missing import", marshal(t, descriptorSet(false, shopFiles[1])),
			`descriptor set: file "shop/orders/v1/orders.proto" imports "shop/common/v1/money.proto", which is not in the set`},
		{"missing google import", marshal(t, &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
			{Name: proto.String("a.proto"), Dependency: []string{"google/type/date.proto"}},
		}}), `descriptor set: file "a.proto" imports "google/type/date.proto", which is not in the set`},
		{"import cycle", marshal(t, cyclic), "descriptor set: import cycle: a.proto -> b.proto -> a.proto"},
		{"two different files of one name", marshal(t, &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{users, changed}}),
			`descriptor set: holds two different files named "shop/users/v1/users.proto"`},
		{"unnamed file", marshal(t, &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{}}}), "descriptor set: holds a file without a name"},
		{"invalid file", marshal(t, &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
			Name: proto.String("a.proto"), Syntax: proto.String("proto3"),
			MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("A"), Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("b"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".Missing"),
			}}}},
		}}}), `descriptor set: file "a.proto": ...`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := registry.FilesFromDescriptorSet(tc.data)
			if err == nil {
				t.Fatalf("no error; files = %q", paths(files))
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			if prefix, ok := strings.CutSuffix(tc.want, "..."); ok {
				if !strings.HasPrefix(msg, prefix) {
					t.Errorf("error = %q\nwant  %q", msg, tc.want)
				}
			} else if msg != tc.want {
				t.Errorf("error = %q\nwant  %q", msg, tc.want)
			}
		})
	}
}

// Concatenated sets (cat a.pb b.pb) repeat the files they share; identical repeats are fine.
func TestFilesFromDescriptorSetConcatenated(t *testing.T) {
	data := append(marshal(t, descriptorSet(true, shopFiles[1])), marshal(t, descriptorSet(true, shopFiles[2]))...)
	files, err := registry.FilesFromDescriptorSet(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := files.FindDescriptorByName("shop.catalog.v1.CatalogService"); err != nil {
		t.Error(err)
	}
}

// The gateway's copies of the google files replace those a set brings, whatever their version.
func TestFilesFromDescriptorSetOwnGoogleFiles(t *testing.T) {
	set := descriptorSet(true, shopFiles[0])
	for _, f := range set.File {
		switch f.GetName() {
		case "google/api/http.proto":
			// A newer http.proto, say, with a field the linked copy lacks.
			rule := f.MessageType[slices.IndexFunc(f.MessageType, func(m *descriptorpb.DescriptorProto) bool { return m.GetName() == "HttpRule" })]
			rule.Field = append(rule.Field, &descriptorpb.FieldDescriptorProto{
				Name: proto.String("future"), JsonName: proto.String("future"), Number: proto.Int32(99),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_BOOL.Enum(),
			})
		case "google/protobuf/timestamp.proto":
			f.SourceCodeInfo = &descriptorpb.SourceCodeInfo{Location: []*descriptorpb.SourceCodeInfo_Location{{
				Path: []int32{4, 0}, Span: []int32{1, 0, 10}, LeadingComments: proto.String(" A Timestamp.\n"),
			}}}
		}
	}
	files, err := registry.FilesFromDescriptorSet(marshal(t, set))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"google/api/http.proto", "google/protobuf/timestamp.proto"} {
		fd, err := files.FindFileByPath(p)
		if linked, _ := protoregistry.GlobalFiles.FindFileByPath(p); err != nil || fd != linked {
			t.Errorf("%s: the set's copy was kept", p)
		}
	}
	rules, err := transcoder.HTTPRules(findMethod(t, files, "shop.users.v1.UserService.GetUser"))
	if err != nil || len(rules) != 1 || rules[0].GetGet() != "/v1/users/{id}" {
		t.Errorf("HTTPRules = %v, %v", rules, err)
	}

	// A file that needs what the gateway's copy lacks fails, naming it.
	set.File = append(set.File, &descriptorpb.FileDescriptorProto{
		Name: proto.String("a.proto"), Syntax: proto.String("proto3"), Dependency: []string{"google/api/http.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("A"), Field: []*descriptorpb.FieldDescriptorProto{{
			Name: proto.String("b"), Number: proto.Int32(1), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".google.api.Future"),
		}}}},
	})
	if _, err := registry.FilesFromDescriptorSet(marshal(t, set)); err == nil || !strings.Contains(err.Error(), `file "a.proto"`) || !strings.Contains(err.Error(), "google.api.Future") {
		t.Errorf("error = %v, want one naming a.proto and google.api.Future", err)
	}
}

func TestDescriptorSetOf(t *testing.T) {
	var first []byte
	for seed := range uint64(5) {
		files, err := registry.FilesFromDescriptorSet(marshal(t, shuffled(descriptorSet(true, shopFiles...), seed)))
		if err != nil {
			t.Fatal(err)
		}
		data, err := registry.DescriptorSetOf(files)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = data
		} else if !bytes.Equal(first, data) {
			t.Fatalf("seed %d: serialization depends on the order of the upload", seed)
		}
	}

	set := new(descriptorpb.FileDescriptorSet)
	if err := proto.Unmarshal(first, set); err != nil {
		t.Fatal(err)
	}
	// Every file follows its imports; among files free to go, paths sort.
	at := make(map[string]int)
	for i, f := range set.File {
		at[f.GetName()] = i
		for _, dep := range f.GetDependency() {
			if j, ok := at[dep]; !ok || j > i {
				t.Errorf("%s comes before its import %s", f.GetName(), dep)
			}
		}
	}
	// google/api/annotations.proto sorts first, and its first import in path order has no imports.
	if got := set.File[0].GetName(); got != "google/api/http.proto" {
		t.Errorf("first file = %s, want google/api/http.proto", got)
	}
	if n := len(set.File); n != 13 {
		t.Errorf("%d files, want 13", n)
	}

	// A stored set loads back to the same files.
	files, err := registry.FilesFromDescriptorSet(first)
	if err != nil {
		t.Fatal(err)
	}
	again, err := registry.DescriptorSetOf(files)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("stored set does not load back to the same set")
	}

	if _, err := registry.DescriptorSetOf(nil); err == nil {
		t.Error("DescriptorSetOf(nil): no error")
	}
}

// The shop sets parse into descriptors equal to the generated ones.
func TestFilesFromDescriptorSetMatchesGenerated(t *testing.T) {
	files, err := registry.FilesFromDescriptorSet(marshal(t, descriptorSet(false, append(shopFiles, commonv1.File_shop_common_v1_money_proto)...)))
	if err != nil {
		t.Fatal(err)
	}
	for _, gen := range shopFiles {
		fd, err := files.FindFileByPath(gen.Path())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := protodesc.ToFileDescriptorProto(fd), protodesc.ToFileDescriptorProto(gen); !proto.Equal(got, want) {
			t.Errorf("%s differs from the generated descriptor", gen.Path())
		}
	}
}

func FuzzFilesFromDescriptorSet(f *testing.F) {
	f.Add(marshal(f, descriptorSet(false, shopFiles[0])))
	f.Add(marshal(f, descriptorSet(true, shopFiles[1])))
	f.Add(marshal(f, &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		{Name: proto.String("a.proto"), Dependency: []string{"b.proto"}},
		{Name: proto.String("b.proto"), Dependency: []string{"a.proto"}},
	}}))
	f.Add([]byte("not a descriptor set"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := registry.FilesFromDescriptorSet(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			return
		}
		// Whatever loads stores, loads back, and serves its options without panicking.
		stored, err := registry.DescriptorSetOf(files)
		if err != nil {
			t.Fatal(err)
		}
		again, err := registry.FilesFromDescriptorSet(stored)
		if err != nil {
			t.Fatalf("stored set does not load: %v", err)
		}
		if restored, _ := registry.DescriptorSetOf(again); !bytes.Equal(stored, restored) {
			t.Fatal("stored set does not load back to the same set")
		}
		visitMethods(files, func(md protoreflect.MethodDescriptor) { _, _ = transcoder.HTTPRules(md) })
	})
}

// visitMethods calls f for every method in files.
func visitMethods(files *protoregistry.Files, f func(protoreflect.MethodDescriptor)) {
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		svcs := fd.Services()
		for i := range svcs.Len() {
			methods := svcs.Get(i).Methods()
			for j := range methods.Len() {
				f(methods.Get(j))
			}
		}
		return true
	})
}

func BenchmarkFilesFromDescriptorSet(b *testing.B) {
	data := marshal(b, descriptorSet(false, shopFiles[0]))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := registry.FilesFromDescriptorSet(data); err != nil {
			b.Fatal(err)
		}
	}
}

// olderHealth is grpc/health/v1/health.proto as a backend might vendor it from before Watch and
// List: Check alone.
func olderHealth() *descriptorpb.FileDescriptorProto {
	fdp := protodesc.ToFileDescriptorProto(healthpb.File_grpc_health_v1_health_proto)
	fdp.MessageType = slices.DeleteFunc(fdp.MessageType, func(m *descriptorpb.DescriptorProto) bool {
		return strings.HasPrefix(m.GetName(), "HealthList")
	})
	fdp.Service[0].Method = slices.DeleteFunc(fdp.Service[0].Method, func(m *descriptorpb.MethodDescriptorProto) bool {
		return m.GetName() != "Check"
	})
	return fdp
}

// hProto is acme/h/v1/h.proto: a service answering with a message of grpc/health/v1/health.proto.
func hProto() *descriptorpb.FileDescriptorProto {
	return &descriptorpb.FileDescriptorProto{
		Name: proto.String("acme/h/v1/h.proto"), Package: proto.String("acme.h.v1"), Syntax: proto.String("proto3"),
		Dependency: []string{"grpc/health/v1/health.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("StatusRequest"), Field: []*descriptorpb.FieldDescriptorProto{{
			Name: proto.String("id"), JsonName: proto.String("id"), Number: proto.Int32(1),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
		}}}},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("H"), Method: []*descriptorpb.MethodDescriptorProto{{
			Name: proto.String("Status"), InputType: proto.String(".acme.h.v1.StatusRequest"), OutputType: proto.String(".grpc.health.v1.HealthCheckResponse"),
		}}}},
	}
}

// The files of the services the gateway answers itself, health checks and server reflection, are
// the gateway's own copies, as the google files are: a registration's older copy must not describe
// them to reflection clients. A copy the gateway's own does not hold compatibly is refused.
func TestFilesFromDescriptorSetOwnServiceFiles(t *testing.T) {
	older := func(fd protoreflect.FileDescriptor, drop string) *descriptorpb.FileDescriptorProto {
		fdp := protodesc.ToFileDescriptorProto(fd)
		for _, m := range fdp.MessageType {
			m.Field = slices.DeleteFunc(m.Field, func(f *descriptorpb.FieldDescriptorProto) bool { return f.GetName() == drop })
		}
		return fdp
	}
	set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		hProto(), olderHealth(),
		older(reflectionpb.File_grpc_reflection_v1_reflection_proto, "file_containing_extension"),
		older(reflectionalphapb.File_grpc_reflection_v1alpha_reflection_proto, "file_containing_extension"),
	}}
	files, err := registry.FilesFromDescriptorSet(marshal(t, set))
	if err != nil {
		t.Fatal(err)
	}
	for _, own := range []protoreflect.FileDescriptor{healthpb.File_grpc_health_v1_health_proto,
		reflectionpb.File_grpc_reflection_v1_reflection_proto, reflectionalphapb.File_grpc_reflection_v1alpha_reflection_proto} {
		if fd, err := files.FindFileByPath(own.Path()); err != nil || fd != own {
			t.Errorf("%s: the set's copy was kept", own.Path())
		}
	}
	status := findMethod(t, files, "acme.h.v1.H.Status")
	if status.Output() != healthpb.File_grpc_health_v1_health_proto.Messages().ByName("HealthCheckResponse") {
		t.Error("acme.h.v1.H.Status does not answer with the gateway's grpc.health.v1.HealthCheckResponse")
	}

	// Left out of the set, health.proto resolves from the gateway's copy.
	alone := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{hProto()}}
	if _, err := registry.FilesFromDescriptorSet(marshal(t, alone)); err != nil {
		t.Errorf("h.proto without health.proto: %v", err)
	}

	// A fork with a field the gateway's copy lacks, or a field of another type, is refused.
	forked := olderHealth()
	forked.MessageType[1].Field = append(forked.MessageType[1].Field, &descriptorpb.FieldDescriptorProto{
		Name: proto.String("detail"), JsonName: proto.String("detail"), Number: proto.Int32(2),
		Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
	})
	retyped := olderHealth()
	retyped.MessageType[0].Field[0].Type = descriptorpb.FieldDescriptorProto_TYPE_BYTES.Enum()
	for _, tc := range []struct {
		name string
		copy *descriptorpb.FileDescriptorProto
		want string
	}{
		{"added field", forked, `grpc.health.v1.HealthCheckResponse: field 2 "detail" removed`},
		{"changed field", retyped, `grpc.health.v1.HealthCheckRequest: field 1 "service" type changed from bytes to string`},
	} {
		_, err := registry.FilesFromDescriptorSet(marshal(t, &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{hProto(), tc.copy}}))
		if err == nil || !strings.HasPrefix(err.Error(), `descriptor set: file "grpc/health/v1/health.proto": the gateway answers grpc.health.v1 itself`) ||
			!strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want one naming the file and %q", tc.name, err, tc.want)
		}
	}
}

// The packages of the services the gateway answers itself are its own files' alone: a file at
// another path declaring anything in one of them, a vendored copy of health.proto, a fork of
// reflection.proto or an unmodified copy alike, is refused, naming the file, the package and the
// path to import instead. Reflection would otherwise describe the copy as the gateway's service.
func TestFilesFromDescriptorSetOwnPackages(t *testing.T) {
	// at returns fdp at path, and acme/h2/v1/h2.proto importing it.
	at := func(path string, fdp *descriptorpb.FileDescriptorProto) []*descriptorpb.FileDescriptorProto {
		fdp.Name = proto.String(path)
		h2 := &descriptorpb.FileDescriptorProto{
			Name: proto.String("acme/h2/v1/h2.proto"), Package: proto.String("acme.h2.v1"), Syntax: proto.String("proto3"),
			Dependency:  []string{path},
			MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("StatusRequest")}},
			Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("H2"), Method: []*descriptorpb.MethodDescriptorProto{{
				Name: proto.String("Status"), InputType: proto.String(".acme.h2.v1.StatusRequest"), OutputType: proto.String(".acme.h2.v1.StatusRequest"),
			}}}},
		}
		return []*descriptorpb.FileDescriptorProto{h2, fdp}
	}
	unaryReflection := protodesc.ToFileDescriptorProto(reflectionpb.File_grpc_reflection_v1_reflection_proto)
	unaryReflection.Service[0].Method[0].ClientStreaming = proto.Bool(false)
	unaryReflection.Service[0].Method[0].ServerStreaming = proto.Bool(false)
	within := &descriptorpb.FileDescriptorProto{Package: proto.String("grpc.health.v1.ext"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Extra")}}}
	for _, tc := range []struct {
		name  string
		files []*descriptorpb.FileDescriptorProto
		want  string
	}{
		{"older health.proto", at("third_party/health.proto", olderHealth()),
			`descriptor set: file "third_party/health.proto" declares package grpc.health.v1, but only the gateway's own grpc/health/v1/health.proto may declare anything in grpc.health.v1: ` +
				`the gateway answers its services itself, and server reflection describes them from that file; import "grpc/health/v1/health.proto" (built in, the gateway's copy) instead of a copy at another path`},
		{"forked reflection.proto", at("third_party/refl.proto", unaryReflection),
			`file "third_party/refl.proto" declares package grpc.reflection.v1, but only the gateway's own grpc/reflection/v1/reflection.proto may declare anything in grpc.reflection.v1`},
		{"unmodified copy", at("vendor/grpc/reflection/v1alpha/reflection.proto", protodesc.ToFileDescriptorProto(reflectionalphapb.File_grpc_reflection_v1alpha_reflection_proto)),
			`file "vendor/grpc/reflection/v1alpha/reflection.proto" declares package grpc.reflection.v1alpha, but only the gateway's own grpc/reflection/v1alpha/reflection.proto may declare anything in grpc.reflection.v1alpha`},
		{"a package within", at("acme/ext.proto", within),
			`file "acme/ext.proto" declares package grpc.health.v1.ext, but only the gateway's own grpc/health/v1/health.proto may declare anything in grpc.health.v1`},
		// Under an own path, but not the gateway's file: no copy to link it to.
		{"another file under grpc/health", at("grpc/health/v1/extra.proto", proto.Clone(within).(*descriptorpb.FileDescriptorProto)),
			`file "grpc/health/v1/extra.proto" declares package grpc.health.v1.ext`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := registry.FilesFromDescriptorSet(marshal(t, &descriptorpb.FileDescriptorSet{File: tc.files}))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant one with %q", err, tc.want)
			}
		})
	}

	// A package that only begins like one of them is anyone's.
	beta := &descriptorpb.FileDescriptorProto{Package: proto.String("grpc.health.v1beta"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Extra")}}}
	if _, err := registry.FilesFromDescriptorSet(marshal(t, &descriptorpb.FileDescriptorSet{File: at("acme/beta.proto", beta)})); err != nil {
		t.Errorf("package grpc.health.v1beta: %v", err)
	}
}
