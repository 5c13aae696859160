package routing

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// RetryPolicy says when a route's unary calls are retried. A call is retried on another endpoint of
// the same cluster when its status code is in RetryOn, attempts remain, the caller is still waiting,
// and retrying is safe: the request never reached a backend (connection refused, circuit open,
// stream refused by a draining server), or the method is idempotent (its descriptor's
// idempotency_level is NO_SIDE_EFFECTS or IDEMPOTENT) and the cluster's retry budget allows; a
// retry of a request that never reached a backend adds no load to any, and is not charged to the
// budget. The zero value means the defaults.
type RetryPolicy struct {
	// Attempts is the most attempts of a call, the first included. Default 2; 1 disables retries.
	Attempts int
	// PerTryTimeout bounds each attempt; the route's timeout bounds them all. 0 means none.
	PerTryTimeout time.Duration
	// RetryOn are the retryable status codes. Default Unavailable.
	RetryOn []codes.Code
	// BackoffBase and BackoffMax bound the wait before a retry: the n-th waits a random time
	// between half and all of min(BackoffMax, BackoffBase*2^(n-1)). Defaults 25ms and 250ms.
	BackoffBase time.Duration
	BackoffMax  time.Duration
}

// Retry defaults.
const (
	DefaultRetryAttempts    = 2
	DefaultRetryBackoffBase = 25 * time.Millisecond
	DefaultRetryBackoffMax  = 250 * time.Millisecond
)

var defaultRetryOn = []codes.Code{codes.Unavailable}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultRetryAttempts
	}
	if len(p.RetryOn) == 0 {
		p.RetryOn = defaultRetryOn
	} else {
		p.RetryOn = slices.Clone(p.RetryOn)
	}
	if p.BackoffBase <= 0 {
		p.BackoffBase = DefaultRetryBackoffBase
	}
	if p.BackoffMax <= 0 {
		p.BackoffMax = DefaultRetryBackoffMax
	}
	p.BackoffMax = max(p.BackoffMax, p.BackoffBase)
	return p
}

func (p *RetryPolicy) validate() error {
	var errs []error
	if p.Attempts < 0 {
		errs = append(errs, errors.New("negative retry attempts"))
	}
	if p.PerTryTimeout < 0 || p.BackoffBase < 0 || p.BackoffMax < 0 {
		errs = append(errs, errors.New("negative retry duration"))
	}
	return errors.Join(errs...)
}

func (p *RetryPolicy) retryable(c codes.Code) bool { return slices.Contains(p.RetryOn, c) }

// backoff waits before retry n (1 for the first), or until ctx ends; it reports whether to go on.
func (p *RetryPolicy) backoff(ctx context.Context, n int) bool {
	d := p.BackoffMax
	if n < 16 && p.BackoffBase<<(n-1) < d {
		d = p.BackoffBase << (n - 1)
	}
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// fileSource is implemented by states that carry descriptors (the registry's snapshots).
type fileSource interface {
	Files() *protoregistry.Files
}

// idempotent reports whether the descriptor of fullMethod, if st has it, declares the method free of
// side effects or idempotent. It runs only when a retry is considered.
func idempotent(st State, fullMethod string) bool {
	fs, ok := st.(fileSource)
	if !ok || fs.Files() == nil {
		return false
	}
	svc, m := splitMethod(fullMethod)
	d, err := fs.Files().FindDescriptorByName(protoreflect.FullName(svc + "." + m))
	if err != nil {
		return false
	}
	md, ok := d.(protoreflect.MethodDescriptor)
	if !ok {
		return false
	}
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok {
		return false
	}
	switch opts.GetIdempotencyLevel() {
	case descriptorpb.MethodOptions_NO_SIDE_EFFECTS, descriptorpb.MethodOptions_IDEMPOTENT:
		return true
	}
	return false
}
