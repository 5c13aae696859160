package policies

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"

	"github.com/protogate/gateway/config"
)

// A module's configuration may name files whose contents the module reads when it is built: a JWT
// provider's key set or HS256 secret, the WAF's extra directives. Compile reads them again every
// time, as registry.SpecFromConfig reads a cluster's TLS files for every snapshot, and keeps a
// module only while both its configuration and those contents are what it was built from: a reload
// after a file was rewritten in place (same path, same config text) rebuilds the module, and one
// after nothing changed keeps it, with its caches and connections.

// namedFile is a file a module's configuration names, and the field that names it.
type namedFile struct {
	field string // as the section's problems name it: "jwt[0].jwks_file"
	path  string
}

// authFiles are the files the authenticator reads when it is built. (API keys and admin tokens are
// written in the configuration itself; mTLS roots are the data port's, loaded with its certificate.)
func authFiles(c config.Auth) []namedFile {
	var files []namedFile
	for i, p := range c.JWT {
		if p.JWKSFile != "" {
			files = append(files, namedFile{fmt.Sprintf("jwt[%d].jwks_file", i), p.JWKSFile})
		}
		if p.SecretFile != "" {
			files = append(files, namedFile{fmt.Sprintf("jwt[%d].secret_file", i), p.SecretFile})
		}
	}
	return files
}

// wafFiles are the files the firewall reads when it is built.
func wafFiles(c config.WAF) []namedFile {
	if c.DirectivesFile == "" {
		return nil
	}
	return []namedFile{{"directives_file", c.DirectivesFile}}
}

// digest is the SHA-256 of files' paths and contents, in order. A file that cannot be read is an
// error that names it, and refuses the compile as one that does not parse would.
func digest(files []namedFile) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if len(files) == 0 {
		return sum, nil
	}
	h := sha256.New()
	for _, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return sum, fmt.Errorf("%s: cannot read %q: %w", f.field, f.path, err)
		}
		writeField(h, []byte(f.path))
		writeField(h, data)
	}
	h.Sum(sum[:0])
	return sum, nil
}

// writeField writes b to h after its length, so that consecutive fields cannot run into each other.
func writeField(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}
