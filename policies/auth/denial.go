package auth

import (
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	"github.com/protogate/gateway/policies/policy"
)

// Domain is the google.rpc.ErrorInfo domain of the gateway's auth refusals.
const Domain = "protogate"

// Realm is the realm WWW-Authenticate challenges name.
const Realm = "protogate"

// reason is why a call is refused; 0 means it is not.
type reason uint8

const (
	_                 reason = iota
	reasonMissing            // no credentials
	reasonScheme             // an Authorization scheme the method does not accept
	reasonMalformed          // not a JWT
	reasonAlgorithm          // an alg no provider accepts ("none", HS256 against a key set)
	reasonIssuer             // an issuer no provider is
	reasonKeyUnknown         // a kid the issuer's key set does not hold
	reasonSignature          // the signature does not verify
	reasonExpired            // exp passed
	reasonNotYetValid        // nbf in the future
	reasonAudience           // aud names none of the provider's audiences
	reasonClaims             // exp missing, the consumer claim missing, a claim of the wrong type
	reasonAPIKey             // an API key nobody holds
	reasonCertificate        // a client certificate naming no consumer
	reasonProvider           // a provider the method does not accept
	reasonAmbiguous          // two Authorization headers, two API keys, or one of each: which one counts?
	reasonScope              // a required scope not granted (403)
	reasonClaim              // a required claim not matching (403)
	numReasons
)

// reasonInfo is what a refusal says: its ErrorInfo reason, its message, and for token errors the
// OAuth error_description of the Bearer challenge.
var reasonInfo = [numReasons]struct {
	name    string
	message string
	token   bool // a Bearer challenge with error="invalid_token"
}{
	reasonMissing:     {"CREDENTIALS_MISSING", "authentication required: no credentials were sent", false},
	reasonScheme:      {"AUTH_SCHEME_UNSUPPORTED", "unsupported Authorization scheme", false},
	reasonMalformed:   {"TOKEN_MALFORMED", "the bearer token is not a well-formed JWT", true},
	reasonAlgorithm:   {"TOKEN_ALGORITHM_REFUSED", "the token's signing algorithm is not accepted", true},
	reasonIssuer:      {"TOKEN_ISSUER_INVALID", "the token's issuer is not trusted", true},
	reasonKeyUnknown:  {"TOKEN_KEY_UNKNOWN", "the token's signing key is not in the issuer's key set", true},
	reasonSignature:   {"TOKEN_SIGNATURE_INVALID", "the token's signature does not verify", true},
	reasonExpired:     {"TOKEN_EXPIRED", "the token has expired", true},
	reasonNotYetValid: {"TOKEN_NOT_YET_VALID", "the token is not valid yet (nbf)", true},
	reasonAudience:    {"TOKEN_AUDIENCE_INVALID", "the token is not meant for this audience", true},
	reasonClaims:      {"TOKEN_CLAIMS_INVALID", "the token lacks a required claim (exp, the consumer claim) or has one of the wrong type", true},
	reasonAPIKey:      {"API_KEY_INVALID", "the API key is not valid", false},
	reasonCertificate: {"CLIENT_CERTIFICATE_INVALID", "the client certificate names no consumer", false},
	reasonProvider:    {"PROVIDER_NOT_ALLOWED", "these credentials are not accepted for this method", false},
	reasonAmbiguous:   {"CREDENTIALS_AMBIGUOUS", "the request carries more than one credential (Authorization headers, API keys): send one", false},
}

func (r reason) String() string { return reasonInfo[r].name }

// denials are a Step's refusals, built when the Step is compiled and shared by every call it refuses.
type denials struct {
	unauth [numReasons]*policy.Denial
}

// newDenials builds the 401 refusals of a method accepting the given kinds of credentials.
func newDenials(jwt, apiKey, mtls bool, apiKeyHeader string) *denials {
	d := &denials{}
	for r := reasonMissing; r < reasonScope; r++ {
		info := reasonInfo[r]
		den := policy.Deny(codes.Unauthenticated, info.message, &errdetails.ErrorInfo{Reason: info.name, Domain: Domain})
		for _, ch := range challenges(jwt, apiKey, mtls, apiKeyHeader, info.token, info.message) {
			den.WithHeader("WWW-Authenticate", ch)
		}
		d.unauth[r] = den
	}
	return d
}

// challenges are the WWW-Authenticate values of a 401: a Bearer challenge when tokens are
// accepted (RFC 6750: with error="invalid_token" when a token was sent and refused), an ApiKey
// challenge naming the header when keys are, and a Mutual-TLS one when only certificates are.
func challenges(jwt, apiKey, mtls bool, apiKeyHeader string, tokenError bool, desc string) []string {
	var out []string
	if jwt {
		ch := `Bearer realm="` + Realm + `"`
		if tokenError {
			ch += `, error="invalid_token", error_description="` + quoteSafe(desc) + `"`
		}
		out = append(out, ch)
	}
	if apiKey {
		out = append(out, `ApiKey realm="`+Realm+`", header="`+apiKeyHeader+`"`)
	}
	if len(out) == 0 || mtls && !jwt && !apiKey {
		out = append(out, `Mutual realm="`+Realm+`"`)
	}
	return out
}

// scopeDenial is the 403 of a scope not granted.
func scopeDenial(scope string, bearer bool) *policy.Denial {
	den := policy.Deny(codes.PermissionDenied, "permission denied: missing scope "+scope,
		&errdetails.ErrorInfo{Reason: "SCOPE_MISSING", Domain: Domain, Metadata: map[string]string{"scope": scope}})
	if bearer {
		den.WithHeader("WWW-Authenticate", `Bearer realm="`+Realm+`", error="insufficient_scope", scope="`+quoteSafe(scope)+`"`)
	}
	return den
}

// claimDenial is the 403 of a claim that does not match. It names the claim, not the value.
func claimDenial(claim string) *policy.Denial {
	return policy.Deny(codes.PermissionDenied, "permission denied: claim "+claim+" does not match",
		&errdetails.ErrorInfo{Reason: "CLAIM_MISMATCH", Domain: Domain, Metadata: map[string]string{"claim": claim}})
}

// quoteSafe drops what cannot appear inside a quoted-string of a challenge.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
}
