package listen

import "time"

const (
	// DefaultSniffTimeout bounds how long a new connection may take to show
	// what it is before it is closed.
	DefaultSniffTimeout = 10 * time.Second

	// DefaultMaxSniffBytes bounds how many bytes are read from a new
	// connection while classifying it.
	DefaultMaxSniffBytes = 64 << 10

	// minSniffBytes is the least cap that can tell anything apart: the HTTP/2
	// preface plus one frame header.
	minSniffBytes = len(clientPreface) + frameHeaderLen
)

// Option configures a Split.
type Option func(*options)

type options struct {
	sniffTimeout  time.Duration
	maxSniffBytes int
}

func newOptions(opts []Option) options {
	o := options{sniffTimeout: DefaultSniffTimeout, maxSniffBytes: DefaultMaxSniffBytes}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// WithSniffTimeout sets how long a new connection has, from the moment it is
// accepted, to send enough bytes to be classified; it is then closed. Zero or
// a negative value means DefaultSniffTimeout.
func WithSniffTimeout(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			d = DefaultSniffTimeout
		}
		o.sniffTimeout = d
	}
}

// WithMaxSniffBytes sets how many bytes may be read from a new connection
// before it is classified; a connection that needs more is closed. Zero or a
// negative value means DefaultMaxSniffBytes; a value too small to hold the
// HTTP/2 preface and one frame header is raised to that size.
func WithMaxSniffBytes(n int) Option {
	return func(o *options) {
		if n <= 0 {
			n = DefaultMaxSniffBytes
		}
		o.maxSniffBytes = max(n, minSniffBytes)
	}
}
