package cli_test

import (
	"bufio"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/protogate/gateway/examples/cmd/internal/cli"
	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
)

func TestRun(t *testing.T) {
	pr, pw := io.Pipe()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() {
		exit <- cli.Run(ctx, "catalog", "127.0.0.1:0", []string{"-latency", "20ms"}, pw)
		pw.Close()
	}()

	// The first log line names the address: the readiness signal.
	first := <-lines
	m := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(first)
	if m == nil || !strings.Contains(first, "latency=20ms") {
		t.Fatalf("first log line %q does not name the address and latency", first)
	}
	conn, err := grpc.NewClient(m[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	begin := time.Now()
	p, err := catalogv1.NewCatalogServiceClient(conn).GetProduct(ctx, &catalogv1.GetProductRequest{Id: "p1"})
	if err != nil || p.GetId() != "p1" {
		t.Fatalf("GetProduct(p1) = %v, %v", p, err)
	}
	if took := time.Since(begin); took < 20*time.Millisecond {
		t.Errorf("GetProduct took %v, want at least the 20ms latency", took)
	}

	cancel()
	if code := <-exit; code != 0 {
		t.Errorf("exit status %d after a stop, want 0", code)
	}
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	if len(rest) == 0 || !strings.Contains(rest[len(rest)-1], "stopped") {
		t.Errorf("log after the address: %q, want a stop message", rest)
	}
}

func TestRunBadArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"-latency", "soon"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"-h"}, 0},
		{[]string{"-latency", "-1s"}, 2},
		{[]string{"-listen", "256.0.0.1:1"}, 1},
	} {
		var out strings.Builder
		if got := cli.Run(context.Background(), "users", "127.0.0.1:0", tc.args, &out); got != tc.want {
			t.Errorf("Run(%q) = %d, want %d; output:\n%s", tc.args, got, tc.want, out.String())
		}
	}
}
