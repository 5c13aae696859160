// Command gateway is the API gateway: it fronts registered gRPC services as gRPC (with gRPC-Web and
// server reflection), REST and GraphQL. Run `gateway demo` for a self-contained tour, `gateway serve` in
// production, and `gateway --help` for everything else.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}
