// Command orders runs the example shop's orders service on its own:
//
//	go run ./examples/cmd/orders -listen 127.0.0.1:50052 -latency 5ms
//
// It logs the address it listens on and stops gracefully on SIGINT or SIGTERM.
package main

import (
	"os"

	"github.com/protogate/gateway/examples/cmd/internal/cli"
)

func main() {
	os.Exit(cli.Main("orders", "127.0.0.1:50052", os.Args[1:], os.Stderr))
}
