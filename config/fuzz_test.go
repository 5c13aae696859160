package config_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/protogate/gateway/config"
)

// FuzzParse checks that Parse never panics, always returns either a
// Config or an *Error with positioned problems, and is deterministic.
func FuzzParse(f *testing.F) {
	cases, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range cases {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range ar.Files {
			if file.Name == "gateway.yaml" {
				f.Add(file.Data)
			}
		}
	}
	f.Add([]byte("a: &a [*a, *a]\nb: &b [*a, *a]\nc: [*b, *b, *b]\n"))
	f.Add([]byte("clusters:\n  - <<: [{name: a}, {endpoints: [x:1]}]\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.yaml", data)
		if err != nil {
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("error %T, want *config.Error: %v", err, err)
			}
			if len(cerr.Problems) == 0 {
				t.Fatal("*config.Error without problems")
			}
			for _, p := range cerr.Problems {
				if p.File != "fuzz.yaml" || p.Message == "" || p.Line < 0 || p.Column < 0 {
					t.Fatalf("malformed problem %#v", p)
				}
				if strings.Contains(p.String(), "\n") {
					t.Fatalf("problem spans lines: %q", p.String())
				}
			}
		} else {
			_ = c.Summary()
		}
		c2, err2 := config.Parse("fuzz.yaml", data)
		if !reflect.DeepEqual(c, c2) || !reflect.DeepEqual(err, err2) {
			t.Fatalf("two parses differ:\n%v\n%v", err, err2)
		}
	})
}
