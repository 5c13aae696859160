package config_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/protogate/gateway/config"
)

var update = flag.Bool("update", false, "rewrite the want section of testdata/*.txtar")

// TestGolden runs each testdata/*.txtar case: the archive's files are
// written to a fresh directory, gateway.yaml among them, and Load's
// result, the Summary or the problems one per line, is compared with the
// "want" file. An "env" file, not written, sets the environment for the
// case: a line NAME=value sets a variable, a line NAME alone unsets it.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no testdata/*.txtar cases")
	}
	for _, file := range cases {
		name := filepath.Base(file)
		t.Run(name[:len(name)-len(".txtar")], func(t *testing.T) {
			file, err := filepath.Abs(file)
			if err != nil {
				t.Fatal(err)
			}
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			var want *txtar.File
			for i, f := range ar.Files {
				switch f.Name {
				case "want":
					want = &ar.Files[i]
					continue
				case "env":
					setEnv(t, f.Data)
					continue
				}
				path := filepath.Join(dir, filepath.FromSlash(f.Name))
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want == nil {
				t.Fatalf("%s has no want section", file)
			}
			t.Chdir(dir) // so that paths in results are relative and stable

			got := load(t, "gateway.yaml")
			if *update {
				want.Data = got
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !bytes.Equal(got, want.Data) {
				t.Errorf("Load(%q):\n%s\nwant:\n%s", "gateway.yaml", got, want.Data)
			}
		})
	}
}

// setEnv sets the environment for one test as the lines of an "env" file say: NAME=value sets a
// variable, NAME alone unsets it; both are restored when the test ends.
func setEnv(t *testing.T, data []byte) {
	t.Helper()
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, set := strings.Cut(line, "=")
		t.Setenv(name, value) // restored at the end of the test, even when unset below
		if !set {
			if err := os.Unsetenv(name); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// load returns what the golden files record for Load(path): the Summary
// of a valid configuration or the problems of an invalid one.
func load(t *testing.T, path string) []byte {
	t.Helper()
	c, err := config.Load(path)
	if err == nil {
		return []byte(c.Summary())
	}
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Load(%q) error is %T, want *config.Error: %v", path, err, err)
	}
	if len(cerr.Problems) == 0 {
		t.Fatalf("Load(%q) returned an *Error without problems", path)
	}
	return []byte(err.Error() + "\n")
}
