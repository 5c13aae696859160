package config

import (
	"cmp"
	"errors"
	"io/fs"
	"math"
	"os"
	"strings"
	"time"
)

// validator checks a decoded Config for the problems decoding cannot see:
// values out of range, names that clash, references to clusters that do
// not exist, options that exclude each other, files that are missing.
// It runs before defaults are filled, so it can tell a field left out
// from one written as zero.
type validator struct {
	*source
	clusters map[string]bool // clusters that routes and services may name
	known    []string        // the same, in file order, for messages
}

// maxWeight bounds endpoint and route target weights.
const maxWeight = 10000

func validate(src *source, c *Config) {
	v := &validator{source: src, clusters: map[string]bool{}}
	v.server(c)
	v.clusterDefinitions(c)
	v.routes(c)
	v.services(c)
	v.graphql(&c.GraphQL)
	v.rest(c)
	v.policies(c)
}

// server checks the listeners and process-wide settings.
func (v *validator) server(c *Config) {
	v.address("listen", c.Listen, true)
	v.address("admin_listen", c.AdminListen, true)
	listen, admin := cmp.Or(c.Listen, DefaultListen), cmp.Or(c.AdminListen, DefaultAdminListen)
	if sameListener(listen, admin) {
		if v.has("admin_listen") {
			v.fieldf("admin_listen", "%s clashes with listen (%s)", admin, listen)
		} else {
			v.fieldf("listen", "%s clashes with the default admin_listen (%s)", listen, admin)
		}
	}
	if c.KeepVersions < 0 {
		v.fieldf("keep_versions", "want a number of versions to keep (0: the default, %d), got %d", DefaultKeepVersions, c.KeepVersions)
	}
	v.positive("shutdown_grace", c.ShutdownGrace)

	t := c.TLS
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		v.fieldf("tls.key_file", "required with cert_file")
	case t.KeyFile != "" && t.CertFile == "":
		v.fieldf("tls.cert_file", "required with key_file")
	case t.ClientCAFile != "" && t.CertFile == "":
		v.fieldf("tls.client_ca_file", "needs cert_file and key_file: client certificates are verified only over TLS")
	}
	v.file("tls.cert_file", t.CertFile)
	v.file("tls.key_file", t.KeyFile)
	v.file("tls.client_ca_file", t.ClientCAFile)
	v.serverTLS(t)

	const path = "grpc.max_message_bytes"
	switch size := c.GRPC.MaxMessageBytes; {
	case size < 0 || size == 0 && v.has(path):
		v.fieldf(path, "want a positive size, got %d", size)
	case size > math.MaxUint32:
		v.fieldf(path, "%d is more than a gRPC message can hold (%d)", size, uint64(math.MaxUint32))
	}
}

// address checks a "host:port" field, when set.
func (v *validator) address(path, addr string, anyHost bool) {
	if addr == "" && !v.has(path) {
		return
	}
	if err := checkAddress(addr, anyHost); err != nil {
		v.fieldf(path, "%v", err)
	}
}

// positive checks a duration field: not negative, and not zero when set.
func (v *validator) positive(path string, d time.Duration) {
	if d < 0 || d == 0 && v.has(path) {
		v.fieldf(path, "want a positive duration, got %s", d)
	}
}

// weight checks a weight field: 1..maxWeight when set.
func (v *validator) weight(path string, w int) {
	if w < 0 || w > maxWeight || w == 0 && v.has(path) {
		v.fieldf(path, "want a weight in 1..%d, got %d", maxWeight, w)
	}
}

// name checks a required name field: syntax, and uniqueness among the
// names in first (name -> path of its first use), which it adds to. It
// reports whether the name is valid and new.
func (v *validator) name(path, name, kind string, first map[string]string) bool {
	switch prev, dup := first[name]; {
	case name == "":
		v.fieldf(path, "required")
	case !validName(name):
		v.fieldf(path, "invalid %s name %q: want [a-z0-9][a-z0-9_.-]*", kind, name)
	case dup:
		v.fieldf(path, "duplicate %s name %q (first at line %d)", kind, name, v.line(prev))
	default:
		first[name] = path
		return true
	}
	return false
}

// reference checks that the field at path names a known cluster.
func (v *validator) reference(path, name string) {
	if v.clusters[name] {
		return
	}
	if len(v.known) == 0 {
		v.fieldf(path, "unknown cluster %q (no clusters are defined)", name)
		return
	}
	v.fieldf(path, "unknown cluster %q (known: %s)", name, strings.Join(v.known, ", "))
}

// exactlyOne checks that exactly one of the fields keys of the mapping at
// path is set, as set says.
func (v *validator) exactlyOne(path string, keys []string, set []bool) {
	var list string
	for i, k := range keys {
		switch i {
		case 0:
		case len(keys) - 1:
			list += " or "
		default:
			list += ", "
		}
		list += k
	}
	count := 0
	for i, s := range set {
		if s {
			if count++; count == 2 {
				v.fieldf(field(path, keys[i]), "set only one of %s", list)
			}
		}
	}
	if count == 0 {
		v.fieldf(path, "set one of %s", list)
	}
}

// nonEmpty checks that a string field, when written, is not empty.
func (v *validator) nonEmpty(path, s string) {
	if s == "" && v.has(path) {
		v.fieldf(path, "must not be empty")
	}
}

// file checks that the file a field names, when set, exists and is not a
// directory.
func (v *validator) file(path, name string) { v.stat(path, name, false) }

// dir checks that the directory a field names, when set, exists.
func (v *validator) dir(path, name string) { v.stat(path, name, true) }

func (v *validator) stat(path, name string, wantDir bool) {
	if name == "" {
		return
	}
	info, err := os.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.fieldf(path, "%q does not exist", name)
	case err != nil:
		v.fieldf(path, "cannot use %q: %v", name, unwrapPath(err))
	case wantDir && !info.IsDir():
		v.fieldf(path, "%q is not a directory", name)
	case !wantDir && info.IsDir():
		v.fieldf(path, "%q is a directory, want a file", name)
	}
}

// readFile reads the file a field names, when set; it reports a file that is missing, a directory
// or unreadable.
func (v *validator) readFile(path, name string) ([]byte, bool) {
	if name == "" {
		return nil, false
	}
	if info, err := os.Stat(name); err != nil || info.IsDir() {
		v.file(path, name)
		return nil, false
	}
	data, err := os.ReadFile(name)
	if err != nil {
		v.fieldf(path, "cannot read %q: %v", name, unwrapPath(err))
		return nil, false
	}
	return data, true
}

// unwrapPath drops the operation and path that *fs.PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}
