package policies_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/internal/testjwt"
	"github.com/protogate/gateway/policies"
	"github.com/protogate/gateway/policies/policy"
)

func writeTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reasonOf is the ErrorInfo reason of a refusal.
func reasonOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// TestCompileRereadsKeySetFile compiles one configuration again and again, as reloads do, while its
// jwks_file changes under the same path: an unchanged file keeps the authenticator (and its cache
// of verified tokens); a rewritten one builds another, whose key set is the file's, so a key that
// left the file stops verifying at once; a file that no longer parses, or is gone, refuses the
// compile, naming it, and the previous authenticator serves on.
func TestCompileRereadsKeySetFile(t *testing.T) {
	dir := t.TempDir()
	jwks := filepath.Join(dir, "jwks.json")
	a, b := testjwt.NewKey(t, "key-a"), testjwt.NewKey(t, "key-b")
	testjwt.WriteKeySet(t, jwks, a)
	cfg, e := fileEngine(t, `
policies:
  auth:
    jwt:
      - {name: corp, issuer: "https://issuer.test", jwks_file: `+jwks+`}
  rules:
    - match: {service: shop.orders.v1.OrderService}
      auth: {required: true}
`)
	compile := func() (*policies.Set, error) {
		return e.Compile(cfg.Policies, []string{getOrder}, nil)
	}
	verdict := func(set *policies.Set, k testjwt.Key) string {
		t.Helper()
		_, release, err := admit(set, getOrder, "authorization", "Bearer "+k.Token(t, "https://issuer.test"))
		if release != nil {
			release()
		}
		switch {
		case err == nil:
			return "OK"
		case status.Code(err) != codes.Unauthenticated:
			t.Fatalf("key %s: %v, want OK or UNAUTHENTICATED", k.KID, err)
		}
		return reasonOf(err)
	}

	first, err := compile()
	if err != nil {
		t.Fatal(err)
	}
	if got := verdict(first, a); got != "OK" {
		t.Fatalf("key A in the file: %s", got)
	}
	authn := e.Auth()
	if _, err := compile(); err != nil || e.Auth() != authn {
		t.Errorf("a compile with the file unchanged: %v, kept the authenticator %v; want it kept", err, e.Auth() == authn)
	}

	testjwt.WriteKeySet(t, jwks, b)
	second, err := compile()
	if err != nil {
		t.Fatal(err)
	}
	if e.Auth() == authn {
		t.Error("a compile after the key set file changed kept the authenticator built from the old file")
	}
	if got := verdict(second, a); got != "TOKEN_KEY_UNKNOWN" {
		t.Errorf("key A, removed from the file: %s, want TOKEN_KEY_UNKNOWN", got)
	}
	if got := verdict(second, b); got != "OK" {
		t.Errorf("key B, now in the file: %s", got)
	}

	authn = e.Auth()
	for _, broken := range []struct {
		name, want string
		change     func()
	}{
		{"half written", "key set " + jwks, func() { writeTestFile(t, jwks, `{"keys": [{"kty": "EC",`) }},
		{"removed", "jwt[0].jwks_file: cannot read \"" + jwks + "\"", func() {
			if err := os.Remove(jwks); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		broken.change()
		if _, err := compile(); err == nil || !strings.Contains(err.Error(), broken.want) {
			t.Errorf("a key set file %s: %v, want an error naming it (%s)", broken.name, err, broken.want)
		}
		if e.Auth() != authn {
			t.Errorf("a key set file %s replaced the authenticator", broken.name)
		}
		if got := verdict(second, b); got != "OK" {
			t.Errorf("the serving set, after a key set file %s: key B %s, want OK", broken.name, got)
		}
	}
}

// TestCompileRereadsSecretFile: an HS256 secret rewritten in place takes effect at the next compile;
// tokens signed with the old one stop verifying.
func TestCompileRereadsSecretFile(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "hs256.secret")
	old, next := strings.Repeat("o", 32), strings.Repeat("n", 32)
	writeTestFile(t, secret, old+"\n")
	cfg, e := fileEngine(t, `
policies:
  auth:
    jwt:
      - {name: corp, issuer: "https://issuer.test", secret_file: `+secret+`}
  rules:
    - match: {service: shop.orders.v1.OrderService}
      auth: {required: true}
`)
	token := func(key string) string {
		t.Helper()
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": "https://issuer.test", "sub": "ada", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	if set, err := e.Compile(cfg.Policies, []string{getOrder}, nil); err != nil {
		t.Fatal(err)
	} else if _, _, err := admit(set, getOrder, "authorization", token(old)); err != nil {
		t.Fatalf("a token of the secret in the file: %v", err)
	}
	writeTestFile(t, secret, next+"\n")
	set, err := e.Compile(cfg.Policies, []string{getOrder}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := admit(set, getOrder, "authorization", token(old)); reasonOf(err) != "TOKEN_SIGNATURE_INVALID" {
		t.Errorf("a token of the secret replaced: %v, want TOKEN_SIGNATURE_INVALID", err)
	}
	if _, _, err := admit(set, getOrder, "authorization", token(next)); err != nil {
		t.Errorf("a token of the new secret: %v", err)
	}
}

// TestCompileRereadsDirectivesFile compiles one configuration again as its WAF directives file is
// rewritten: the firewall loaded from the old file is replaced by one that runs the new rules; a file
// that does not load refuses the compile, naming it, and a refused compile replaces no module, not
// even one whose own file changed and loaded.
func TestCompileRereadsDirectivesFile(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the Core Rule Set three times")
	}
	dir := t.TempDir()
	rules, jwks := filepath.Join(dir, "waf.conf"), filepath.Join(dir, "jwks.json")
	rule := func(header string, id int) string {
		return fmt.Sprintf("SecRule REQUEST_HEADERS:%s \"@rx .\" \"id:%d,phase:1,deny,status:403,log,msg:'%[1]s'\"\n", header, id)
	}
	writeTestFile(t, rules, rule("X-Evil", 100001))
	a, b := testjwt.NewKey(t, "key-a"), testjwt.NewKey(t, "key-b")
	testjwt.WriteKeySet(t, jwks, a)
	cfg, e := fileEngine(t, `
policies:
  auth:
    jwt:
      - {name: corp, issuer: "https://issuer.test", jwks_file: `+jwks+`}
  waf: {mode: blocking, directives_file: `+rules+`}
`)
	get := func(set *policies.Set, header string) int {
		t.Helper()
		h := set.Wrap(policy.FrontREST, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		r := httptest.NewRequest(http.MethodGet, "/v1/users/1", nil)
		r.Header.Set(header, "1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	first, err := e.Compile(cfg.Policies, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := get(first, "X-Evil"); got != http.StatusForbidden {
		t.Fatalf("X-Evil under the first rules: %d, want 403", got)
	}

	writeTestFile(t, rules, rule("X-Evil2", 100002))
	second, err := e.Compile(cfg.Policies, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := get(second, "X-Evil"); got != http.StatusOK {
		t.Errorf("X-Evil after its rule left the file: %d, want 200", got)
	}
	if got := get(second, "X-Evil2"); got != http.StatusForbidden {
		t.Errorf("X-Evil2 after its rule was written: %d, want 403", got)
	}

	// Both files change; the directives do not load. The compile is refused, naming the file, and
	// the authenticator built from the new key set is not kept either.
	authn := e.Auth()
	testjwt.WriteKeySet(t, jwks, b)
	writeTestFile(t, rules, `SecRule REQUEST_HEADERS:X-Evil3 "@rx ." "id:300001,phase:1,deny`)
	if _, err := e.Compile(cfg.Policies, nil, nil); err == nil || !strings.Contains(err.Error(), `directives_file "`+rules+`"`) {
		t.Errorf("a directives file that does not load: %v, want an error naming it", err)
	}
	if e.Auth() != authn {
		t.Error("a refused compile replaced the authenticator")
	}
	if got := get(second, "X-Evil2"); got != http.StatusForbidden {
		t.Errorf("the serving set after a refused compile: X-Evil2 %d, want 403", got)
	}
}

// fileEngine parses a config file's text and builds the policies engine of it, closed when the
// test ends.
func fileEngine(t *testing.T, yaml string) (*config.Config, *policies.Engine) {
	t.Helper()
	cfg, err := config.Parse("gateway.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	e, err := policies.NewEngine(cfg.Policies, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return cfg, e
}
