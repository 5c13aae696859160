package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// validName reports whether s is a valid cluster, route or service name:
// [a-z0-9][a-z0-9_.-]*.
func validName(s string) bool {
	for i, r := range s {
		lowerOrDigit := 'a' <= r && r <= 'z' || '0' <= r && r <= '9'
		if !lowerOrDigit && (i == 0 || !strings.ContainsRune("_.-", r)) {
			return false
		}
	}
	return s != ""
}

// validIdent reports whether s is a protobuf identifier.
func validIdent(s string) bool {
	for i, r := range s {
		letter := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r == '_'
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return s != ""
}

// validFullName reports whether s is a fully qualified protobuf name,
// such as "shop.users.v1.UserService".
func validFullName(s string) bool {
	for part := range strings.SplitSeq(s, ".") {
		if !validIdent(part) {
			return false
		}
	}
	return true
}

// validMethod reports whether s names a method, "pkg.Service/Method",
// with or without a leading "/".
func validMethod(s string) bool {
	service, method, ok := strings.Cut(strings.TrimPrefix(s, "/"), "/")
	return ok && validFullName(service) && validIdent(method)
}

// validHeaderName reports whether s is an HTTP header name (a token).
func validHeaderName(s string) bool {
	for _, r := range s {
		alnum := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
		if !alnum && !strings.ContainsRune("!#$%&'*+-.^_`|~", r) {
			return false
		}
	}
	return s != ""
}

// CheckEndpoint returns why addr is not a valid upstream endpoint, "host:port": the host a name,
// an IPv4 address or a bracketed IPv6 address, the port 1..65535.
func CheckEndpoint(addr string) error { return checkAddress(addr, false) }

// checkAddress returns why addr is not a valid "host:port": the host a
// name, an IPv4 address or a bracketed IPv6 address, the port 1..65535.
// An empty host, meaning every interface, is allowed when anyHost is set.
func checkAddress(addr string, anyHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if ae, ok := errors.AsType[*net.AddrError](err); ok {
			return fmt.Errorf("invalid address %q: %s, want host:port", addr, ae.Err)
		}
		return fmt.Errorf("invalid address %q: want host:port", addr)
	}
	if _, ok := parsePort(port); !ok {
		return fmt.Errorf("invalid port %q in %q: want 1..65535", port, addr)
	}
	if host == "" {
		if anyHost {
			return nil
		}
		return fmt.Errorf("missing host in %q", addr)
	}
	if strings.HasPrefix(addr, "[") {
		if ip, err := netip.ParseAddr(host); err != nil || !ip.Is6() {
			return fmt.Errorf("invalid IPv6 address %q in %q", host, addr)
		}
		return nil
	}
	if !validHost(host) {
		return fmt.Errorf("invalid host %q in %q", host, addr)
	}
	return nil
}

// parsePort parses a port number, 1..65535.
func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	p, _ := strconv.Atoi(s)
	return p, 1 <= p && p <= 65535
}

// validHost reports whether s is an IPv4 address or a DNS name (labels of
// letters, digits, '-' and '_', with an optional trailing dot).
func validHost(s string) bool {
	if strings.Trim(s, "0123456789.") == "" {
		ip, err := netip.ParseAddr(s)
		return err == nil && ip.Is4()
	}
	s = strings.TrimSuffix(s, ".")
	if len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			alnum := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
			if !alnum && r != '-' && r != '_' {
				return false
			}
		}
	}
	return true
}

// sameListener reports whether listen addresses a and b, both valid,
// would bind the same port: same port, and the same host or one of them
// listening on every interface.
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return false
	}
	na, okA := parsePort(pa)
	nb, okB := parsePort(pb)
	if !okA || !okB || na != nb {
		return false
	}
	return strings.EqualFold(ha, hb) || unspecified(ha) || unspecified(hb)
}

func unspecified(host string) bool {
	if host == "" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsUnspecified()
}
