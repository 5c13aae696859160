package store

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockFile takes an exclusive lock on f without waiting; busy reports that another open file
// holds it. The locked byte lies far past the end, so that readHolder can still read the file.
func lockFile(f *os.File) (busy bool, err error) {
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY,
		0, 1, 0, &windows.Overlapped{OffsetHigh: 1 << 30})
	return errors.Is(err, windows.ERROR_LOCK_VIOLATION), err
}

// syncDir does nothing: Windows cannot flush a directory opened by os.Open, and NTFS journals
// renames.
func syncDir(string) error { return nil }
