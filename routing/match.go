package routing

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Headers is read-only access to request headers or metadata. Names passed to
// Values are lower-case.
type Headers interface {
	Values(name string) []string
}

// MD adapts gRPC metadata (google.golang.org/grpc/metadata.MD, whose keys are
// already lower-case) to [Headers]: MD(md).
type MD map[string][]string

// Values returns the values of the lower-case key name.
func (m MD) Values(name string) []string { return m[name] }

// HTTPHeaders adapts an http.Header to [Headers]: HTTPHeaders(r.Header).
type HTTPHeaders http.Header

// Values returns http.Header(h).Values(name). Unlike the standard library it
// does not allocate to canonicalize ordinary names (letters, digits, '-') of
// up to 64 bytes.
func (h HTTPHeaders) Values(name string) []string {
	var buf [64]byte
	if len(name) == 0 || len(name) > len(buf) {
		return http.Header(h).Values(name)
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z':
			if upper {
				c -= 'a' - 'A'
			}
		case 'A' <= c && c <= 'Z':
			if !upper {
				c += 'a' - 'A'
			}
		case '0' <= c && c <= '9' || c == '-':
		default:
			// Other bytes follow textproto's rules; let it handle them.
			return http.Header(h).Values(name)
		}
		buf[i] = c
		upper = c == '-'
	}
	return h[string(buf[:len(name)])] // map index by string(bytes) does not allocate
}

// HeaderMatch matches one request header. Exactly one of Exact, Prefix, Regex
// and Present is set. The match is true when any value of the header satisfies
// it (for Present: when the header has at least one value); Invert negates the
// result, so an inverted matcher is true for a missing header.
type HeaderMatch struct {
	Name    string         // lower-case header name
	Exact   string         // a value equals Exact
	Prefix  string         // a value starts with Prefix
	Regex   *regexp.Regexp // a value matches Regex (unanchored unless the expression anchors itself)
	Present bool           // the header is present, with any value
	Invert  bool           // negate the result
}

// Match selects the calls a [Route] applies to: exactly one of Method and
// Prefix is set, and every header matcher must match.
type Match struct {
	Method  string // exact full method name "/pkg.Service/Method"
	Prefix  string // prefix of the full method name: "/pkg.Service/" for a whole service, "/" for everything
	Headers []HeaderMatch
}

// matches reports whether h satisfies m. A nil h has no headers.
func (m *HeaderMatch) matches(h Headers) bool {
	var values []string
	if h != nil {
		values = h.Values(m.Name)
	}
	ok := false
	switch {
	case m.Present:
		ok = len(values) > 0
	case m.Exact != "":
		for _, v := range values {
			if v == m.Exact {
				ok = true
				break
			}
		}
	case m.Prefix != "":
		for _, v := range values {
			if strings.HasPrefix(v, m.Prefix) {
				ok = true
				break
			}
		}
	case m.Regex != nil:
		for _, v := range values {
			if m.Regex.MatchString(v) {
				ok = true
				break
			}
		}
	}
	return ok != m.Invert
}

// headersMatch reports whether h satisfies every matcher of m.
func (m *Match) headersMatch(h Headers) bool {
	for i := range m.Headers {
		if !m.Headers[i].matches(h) {
			return false
		}
	}
	return true
}

// validate reports what is wrong with m, or nil.
func (m *Match) validate() error {
	var errs []error
	switch {
	case m.Method != "" && m.Prefix != "":
		errs = append(errs, errors.New("both method and prefix are set; set exactly one"))
	case m.Method == "" && m.Prefix == "":
		errs = append(errs, errors.New("neither method nor prefix is set; set exactly one"))
	case m.Method != "":
		if !validFullMethod(m.Method) {
			errs = append(errs, fmt.Errorf("method %q is not a full method name of the form \"/pkg.Service/Method\"", m.Method))
		}
	default:
		if m.Prefix[0] != '/' {
			errs = append(errs, fmt.Errorf("prefix %q does not start with \"/\"", m.Prefix))
		}
	}
	for i := range m.Headers {
		if err := m.Headers[i].validate(); err != nil {
			errs = append(errs, fmt.Errorf("header matcher %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// validate reports what is wrong with m, or nil.
func (m *HeaderMatch) validate() error {
	if m.Name == "" {
		return errors.New("name is empty")
	}
	if m.Name != strings.ToLower(m.Name) {
		return fmt.Errorf("name %q is not lower-case", m.Name)
	}
	set := 0
	for _, b := range []bool{m.Exact != "", m.Prefix != "", m.Regex != nil, m.Present} {
		if b {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("header %q: %d of exact, prefix, regex, present are set; set exactly one", m.Name, set)
	}
	return nil
}

// validFullMethod reports whether s has the form "/service/method" with both
// parts non-empty.
func validFullMethod(s string) bool {
	if len(s) < 2 || s[0] != '/' {
		return false
	}
	svc, method, ok := strings.Cut(s[1:], "/")
	return ok && svc != "" && method != "" && !strings.Contains(method, "/")
}
