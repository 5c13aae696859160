package routing_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: health checkers, resolvers,
// draining connections and the fault tests' servers must all be stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
