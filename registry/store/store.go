package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Record is one version of one registration, as stored. The registry treats Payload as opaque bytes
// (a serialized proto it owns); the store never decodes it.
type Record struct {
	Name      string
	Version   uint64 // 1, 2, 3... per name, assigned by the registry
	Digest    string
	CreatedAt time.Time
	Payload   []byte
}

// State is everything stored: every version of every registration that was not dropped, and which
// version of each is active (a name absent from Active is deleted / not served, but its history
// remains).
type State struct {
	Records []Record          // sorted by name, then version
	Active  map[string]uint64 // name -> active version
}

// Store persists the registry. Implementations are safe for concurrent use.
type Store interface {
	// Load returns everything stored. The returned State is the caller's: it shares no memory with
	// the store. CreatedAt comes back in UTC, at nanosecond precision, without a monotonic reading.
	Load(ctx context.Context) (State, error)
	// Commit atomically appends the given records (may be none) and sets the active version of name
	// (0 = not active / deleted). Either all of it is durable when it returns nil, or none of it.
	//
	// Every record in add must carry name and a version of at least 1. Adding a version that is
	// already stored with the same content is a no-op; with different content the whole commit is
	// refused with an error wrapping ErrConflict. A non-zero active must name a version that is
	// stored or added. The store keeps no reference to add's payloads after Commit returns.
	Commit(ctx context.Context, name string, active uint64, add ...Record) error
	// Drop atomically removes the given versions of name, payloads and all: either every one of
	// them is gone for good when it returns nil, or none is. It never removes the active version
	// of name: asked to, it drops nothing and returns an error wrapping ErrActive. A version that
	// is not stored is skipped, so dropping the same versions again is a no-op. A dropped version
	// may be added again by Commit, with any content.
	Drop(ctx context.Context, name string, versions ...uint64) error
	// Close releases the store. Later calls return an error; Close itself may be called again.
	Close() error
}

var (
	// ErrNewerFormat is wrapped by Open when the data dir was written by a newer gateway.
	ErrNewerFormat = errors.New("store format is newer than this gateway understands")
	// ErrCorrupt is wrapped when a stored file is truncated, altered or missing. The store never
	// repairs, wipes or rewrites such a file; the error names it.
	ErrCorrupt = errors.New("store is corrupt")
	// ErrConflict is wrapped by Commit when a version is already stored with different content.
	ErrConflict = errors.New("version already stored with different content")
	// ErrLocked is wrapped by Open when another process holds the data dir.
	ErrLocked = errors.New("data dir in use by another gateway")
	// ErrActive is wrapped by Drop when asked to drop the active version.
	ErrActive = errors.New("the active version cannot be dropped")
)

var errClosed = errors.New("store: closed")

// kindError is an error with its own message that still matches one of the sentinel errors
// under errors.Is, so that the message reads as one sentence instead of "sentinel: details".
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// corrupt reports that the file at path is damaged and why.
func corrupt(path, why string) error {
	return &kindError{kind: ErrCorrupt, msg: "store file " + path + " is corrupt (" + why +
		"); it was left as it is: restore the data dir from a backup or use another --data-dir"}
}

// canonicalTime is t as the store gives it back: UTC, no monotonic reading, nanosecond precision.
func canonicalTime(t time.Time) time.Time {
	return time.Unix(t.Unix(), int64(t.Nanosecond())).UTC()
}

// ctxErr is ctx.Err(), wrapped so the caller can tell which store operation it stopped.
func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}
