package transcoder_test

import (
	"strings"
	"testing"

	"github.com/protogate/gateway/transcoder"
)

func TestParseTemplate(t *testing.T) {
	cases := []struct {
		in, key string
		vars    string // "path:start-end,..."
		verb    string
	}{
		{"/v1/users/{id}", "/v1/users/*", "id:2-3", ""},
		{"/v1/users", "/v1/users", "", ""},
		{"/", "/", "", ""},
		{"/v1/users:batchGet", "/v1/users:batchGet", "", "batchGet"},
		{"/v1/users/{user.id}", "/v1/users/*", "user.id:2-3", ""},
		{"/v1/{name=projects/*/things/*}:publish", "/v1/projects/*/things/*:publish", "name:1-5", "publish"},
		{"/v1/files/{path=**}", "/v1/files/**", "path:2-3", ""},
		{"/v1/{a}/x/{b=*}", "/v1/*/x/*", "a:1-2,b:3-4", ""},
		{"/v1/products/{id}/inventory:watch", "/v1/products/*/inventory:watch", "id:2-3", "watch"},
		{"/v1/*/**", "/v1/*/**", "", ""},
	}
	for _, tc := range cases {
		tpl, err := transcoder.ParseTemplate(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if tpl.Key() != tc.key || tpl.Verb != tc.verb {
			t.Errorf("%s: key %q verb %q, want %q %q", tc.in, tpl.Key(), tpl.Verb, tc.key, tc.verb)
		}
		var vars []string
		for _, v := range tpl.Variables {
			vars = append(vars, strings.Join(v.FieldPath, ".")+":"+itoa(v.Start)+"-"+itoa(v.End))
		}
		if got := strings.Join(vars, ","); got != tc.vars {
			t.Errorf("%s: variables %q, want %q", tc.in, got, tc.vars)
		}
	}
}

func TestParseTemplateErrors(t *testing.T) {
	for _, in := range []string{
		"", "v1/users", "/v1//users", "/v1/{id", "/v1/{}", "/v1/{a.}", "/v1/{1a}", "/v1/{a={b}}",
		"/v1/**/x", "/v1/users:", "/v1/{id}/{id}", "/v1/us ers", "/v1/%zz", "/v1/{id=}",
	} {
		if tpl, err := transcoder.ParseTemplate(in); err == nil {
			t.Errorf("ParseTemplate(%q) = %v, want an error", in, tpl.Key())
		}
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"/v1/users/{id}", "/v1/{name=projects/*/things/*}:publish", "/v1/files/{path=**}", "/", "/a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := transcoder.ParseTemplate(s)
		if err != nil {
			return
		}
		// A parsed template's key parses again to the same key.
		again, err := transcoder.ParseTemplate(tpl.Key())
		if err != nil {
			t.Fatalf("key %q of %q does not parse: %v", tpl.Key(), s, err)
		}
		if again.Key() != tpl.Key() {
			t.Fatalf("key %q of %q parses to key %q", tpl.Key(), s, again.Key())
		}
		for _, v := range tpl.Variables {
			if v.Start < 0 || v.End > len(tpl.Segments) || v.Start >= v.End {
				t.Fatalf("variable %v out of range in %q", v, s)
			}
		}
	})
}

func BenchmarkParseTemplate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := transcoder.ParseTemplate("/v1/{name=projects/*/things/*}:publish"); err != nil {
			b.Fatal(err)
		}
	}
}

func itoa(i int) string {
	return string(rune('0' + i))
}

func TestTemplateMatches(t *testing.T) {
	for _, tc := range []struct {
		tpl, path string
		want      bool
	}{
		{"/v1/registrations", "/v1/registrations", true},
		{"/v1/registrations", "/v1/registrations/x", false},
		{"/v1/registrations/{name}", "/v1/registrations/users", true},
		{"/v1/registrations/{name}", "/v1/registrations/", false},
		{"/v1/registrations/{name}:rollback", "/v1/registrations/users:rollback", true},
		{"/v1/registrations/{name}:rollback", "/v1/registrations/users", false},
		{"/v1/{name=things/*}", "/v1/things/a", true},
		{"/v1/{name=things/*}", "/v1/stuff/a", false},
		{"/v1/files/{path=**}", "/v1/files/a/b/c", true},
		{"/v1/files/{path=**}", "/v1/files", true},
		{"/v1/files/{path=**}", "/v1/files/", false},
		{"/v1/files/{path=**}", "/v1/files/a/", false},
		{"/v1/files/{path=**}", "/v1/files/a//c", false},
		{"/v1/status", "v1/status", false},
	} {
		tpl, err := transcoder.ParseTemplate(tc.tpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := tpl.Matches(tc.path); got != tc.want {
			t.Errorf("%s matches %s = %v, want %v", tc.tpl, tc.path, got, tc.want)
		}
	}
}
