// Command users runs the example shop's users service on its own:
//
//	go run ./examples/cmd/users -listen 127.0.0.1:50051 -latency 5ms
//
// It logs the address it listens on and stops gracefully on SIGINT or SIGTERM.
package main

import (
	"os"

	"github.com/protogate/gateway/examples/cmd/internal/cli"
)

func main() {
	os.Exit(cli.Main("users", "127.0.0.1:50051", os.Args[1:], os.Stderr))
}
