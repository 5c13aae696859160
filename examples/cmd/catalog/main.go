// Command catalog runs the example shop's catalog service on its own:
//
//	go run ./examples/cmd/catalog -listen 127.0.0.1:50053 -latency 5ms
//
// It logs the address it listens on and stops gracefully on SIGINT or SIGTERM.
package main

import (
	"os"

	"github.com/protogate/gateway/examples/cmd/internal/cli"
)

func main() {
	os.Exit(cli.Main("catalog", "127.0.0.1:50053", os.Args[1:], os.Stderr))
}
