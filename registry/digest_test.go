package registry_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/protogate/gateway/registry"
)

func TestDigest(t *testing.T) {
	fromSet := func(t *testing.T, withImports bool, seed uint64) *protoregistry.Files {
		t.Helper()
		files, err := registry.FilesFromDescriptorSet(marshal(t, shuffled(descriptorSet(withImports, shopFiles[0]), seed)))
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	files := fromSet(t, false, 0)
	endpoints := []string{"10.0.0.1:5001", "10.0.0.2:5001"}
	services := []string{"shop.users.v1.UserService"}
	base := registry.Digest(files, endpoints, services, "")
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(base) {
		t.Fatalf("digest %q is not hex SHA-256", base)
	}

	t.Run("same", func(t *testing.T) {
		for name, got := range map[string]string{
			"again":                          registry.Digest(files, endpoints, services, ""),
			"set in another order":           registry.Digest(fromSet(t, false, 7), endpoints, services, ""),
			"set with its imports, shuffled": registry.Digest(fromSet(t, true, 3), endpoints, services, ""),
			"endpoints in another order":     registry.Digest(files, []string{"10.0.0.2:5001", "10.0.0.1:5001"}, services, ""),
			"an endpoint repeated":           registry.Digest(files, []string{"10.0.0.2:5001", "10.0.0.1:5001", "10.0.0.2:5001"}, services, ""),
		} {
			if got != base {
				t.Errorf("%s: digest differs", name)
			}
		}
	})

	// Digests are stored with the versions they identify, and a refresh compares the one it computes
	// with the stored one: a registration that names no cluster keeps the digest it always had.
	t.Run("stable", func(t *testing.T) {
		const want = "1ecc5d843d33ee0adcfedf8ef2b4faec79cead8d7fb857c95e906acaa5296db2"
		if got := registry.Digest(nil, endpoints[:1], services, ""); got != want {
			t.Errorf("digest without a cluster = %s, want %s as before clusters counted", got, want)
		}
	})

	t.Run("different", func(t *testing.T) {
		withOrders, err := registry.FilesFromDescriptorSet(marshal(t, descriptorSet(true, shopFiles[0], shopFiles[1])))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{base: "base"}
		for name, got := range map[string]string{
			"another endpoint":         registry.Digest(files, append(endpoints, "10.0.0.3:5001"), services, ""),
			"one endpoint less":        registry.Digest(files, endpoints[:1], services, ""),
			"no services named":        registry.Digest(files, endpoints, nil, ""),
			"another service":          registry.Digest(files, endpoints, []string{"shop.users.v1.Other"}, ""),
			"endpoint as service":      registry.Digest(files, endpoints[:1], []string{endpoints[1]}, ""),
			"more files":               registry.Digest(withOrders, endpoints, services, ""),
			"no files":                 registry.Digest(nil, endpoints, services, ""),
			"endpoints joined":         registry.Digest(files, []string{strings.Join(endpoints, "")}, services, ""),
			"different descriptor":     registry.Digest(compileUsers(t, "bytes avatar = 12;", "bytes avatar = 12;\n  string extra = 99;"), endpoints, services, ""),
			"a cluster named":          registry.Digest(files, endpoints, services, "users-tls"),
			"another cluster":          registry.Digest(files, endpoints, services, "users"),
			"a cluster, no endpoints":  registry.Digest(files, nil, services, "users"),
			"no cluster, no endpoints": registry.Digest(files, nil, services, ""),
			"endpoint as cluster":      registry.Digest(files, endpoints[:1], services, endpoints[1]),
		} {
			if prev, dup := seen[got]; dup {
				t.Errorf("%s: same digest as %s", name, prev)
			}
			seen[got] = name
		}
	})
}

// A version's digest counts how it was asked for, beyond its content: the services requested (as a
// set) and the refresh, with where it asks from. Without either it is the content's digest, which
// versions stored before they counted carry.
func TestVersionDigest(t *testing.T) {
	content := registry.Digest(nil, []string{"10.0.0.1:5001"}, []string{"shop.users.v1.UserService"}, "")
	if got := registry.VersionDigest(content, nil, 0, "10.0.0.1:5001"); got != content {
		t.Errorf("no services requested, no refresh: %s, want the content's digest %s", got, content)
	}
	users := []string{"shop.users.v1.UserService"}
	base := registry.VersionDigest(content, users, 0, "")
	for name, got := range map[string]string{
		"services repeated":          registry.VersionDigest(content, append(users, users...), 0, ""),
		"no refresh, another source": registry.VersionDigest(content, users, 0, "10.0.0.9:5001"),
	} {
		if got != base {
			t.Errorf("%s: digest differs", name)
		}
	}
	seen := map[string]string{content: "the content's", base: "a service requested"}
	for name, got := range map[string]string{
		"another service requested":  registry.VersionDigest(content, []string{"shop.users.v1.Other"}, 0, ""),
		"two services requested":     registry.VersionDigest(content, append(users, "shop.users.v1.Other"), 0, ""),
		"a refresh":                  registry.VersionDigest(content, nil, time.Minute, "10.0.0.1:5001"),
		"another refresh":            registry.VersionDigest(content, nil, time.Hour, "10.0.0.1:5001"),
		"a refresh from elsewhere":   registry.VersionDigest(content, nil, time.Minute, "10.0.0.2:5001"),
		"a refresh, a service":       registry.VersionDigest(content, users, time.Minute, "10.0.0.1:5001"),
		"a refresh on a cluster":     registry.VersionDigest(content, nil, time.Minute, ""),
		"another content, a service": registry.VersionDigest(registry.Digest(nil, nil, nil, ""), users, 0, ""),
		"the content's as a service": registry.VersionDigest(content, []string{content}, 0, ""),
	} {
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: same digest as %s", name, prev)
		}
		seen[got] = name
	}
}

// compileUsers compiles the shop's users.proto with old replaced by new.
func compileUsers(t *testing.T, old, new string) *protoregistry.Files {
	t.Helper()
	src := shopSources(t)["shop/users/v1/users.proto"]
	if !strings.Contains(src, old) {
		t.Fatalf("users.proto has no %q", old)
	}
	files, err := registry.FilesFromProtos(t.Context(), map[string]string{"shop/users/v1/users.proto": strings.Replace(src, old, new, 1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// The digest depends on the descriptors, not on where they came from; source info is part of them.
func TestDigestAcrossSources(t *testing.T) {
	endpoints := []string{"127.0.0.1:5001"}
	digest := func(files *protoregistry.Files) string { return registry.Digest(files, endpoints, nil, "") }

	uploaded, err := registry.FilesFromDescriptorSet(marshal(t, descriptorSet(false, shopFiles[0])))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	reflected, _, err := registry.FilesFromReflection(ctx, startShop(t, "users"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if digest(uploaded) != digest(reflected) {
		t.Error("reflection and the uploaded set (neither with source info) differ")
	}

	compiled := compileUsers(t, "", "")
	stored, err := registry.DescriptorSetOf(compiled)
	if err != nil {
		t.Fatal(err)
	}
	reuploaded, err := registry.FilesFromDescriptorSet(stored)
	if err != nil {
		t.Fatal(err)
	}
	if digest(compiled) != digest(reuploaded) {
		t.Error("compiled files and their set uploaded again differ")
	}
	if digest(compiled) != digest(compileUsers(t, "", "")) {
		t.Error("compiling twice differs")
	}
	// Comments are served (OpenAPI, GraphQL descriptions), so source info counts: the compiled files
	// carry it, the generated ones do not.
	if digest(compiled) == digest(uploaded) {
		t.Error("compiled (with source info) and generated (without) give the same digest")
	}
	if digest(compiled) == digest(compileUsers(t, "// Full name.", "// The full name.")) {
		t.Error("a changed comment does not change the digest")
	}
}
