package telemetry

import "testing"

func TestSplitHostPort(t *testing.T) {
	for _, tc := range []struct {
		addr, host string
		port       int
		ok         bool
	}{
		{"127.0.0.1:50051", "127.0.0.1", 50051, true},
		{"[::1]:443", "::1", 443, true},
		{"users.internal:8080", "users.internal", 8080, true},
		{"users.internal", "users.internal", 0, false},
		{"[::1]", "[::1]", 0, false},
		{"host:http", "host", 0, false},
		{"host:70000", "host", 0, false},
	} {
		host, port, ok := splitHostPort(tc.addr)
		if host != tc.host || port != tc.port || ok != tc.ok {
			t.Errorf("splitHostPort(%q) = %q, %d, %v, want %q, %d, %v", tc.addr, host, port, ok, tc.host, tc.port, tc.ok)
		}
	}
}
