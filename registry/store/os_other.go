//go:build !unix && !windows

package store

import (
	"errors"
	"os"
)

// lockFile fails: this platform has no file locks, so a data dir cannot be guarded.
func lockFile(*os.File) (busy bool, err error) { return false, errors.ErrUnsupported }

// syncDir does nothing: see lockFile.
func syncDir(string) error { return nil }
