package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// lockDir takes the data dir's lock file, so that one gateway at a time uses dir. The lock is an
// advisory lock on the open file (flock on Unix), so the kernel releases it when the process dies,
// however it dies. The file also says who holds it, for the error the next gateway reports.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	busy, err := lockFile(f)
	if busy {
		holder := readHolder(f)
		f.Close()
		return nil, &kindError{kind: ErrLocked, msg: fmt.Sprintf("data dir %s in use by another gateway "+
			"(lock %s held by %s); stop it or use another --data-dir", dir, path, holder)}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	// Best effort: the pid only makes the error above more helpful.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(fmt.Sprintf("pid %d\n", os.Getpid())), 0)
	}
	return f, nil
}

// readHolder returns what the lock file says about its holder.
func readHolder(f *os.File) string {
	b, _ := io.ReadAll(io.LimitReader(io.NewSectionReader(f, 0, 64), 64))
	if s := strings.TrimSpace(string(b)); s != "" {
		return s
	}
	return "an unknown process"
}
