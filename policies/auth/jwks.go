package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// maxJWKSBytes bounds a key set document.
const maxJWKSBytes = 1 << 20

// minRSABits refuses RSA keys too short to be trusted.
const minRSABits = 2048

// publicKey is one verification key of a key set.
type publicKey struct {
	kid string
	alg string // the JWK's "alg", when it names one: the only algorithm the key verifies
	key crypto.PublicKey
}

// fits reports whether the key can verify a token signed with alg.
func (k *publicKey) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch key := k.key.(type) {
	case *rsa.PublicKey:
		return alg == "RS256" || alg == "RS384" || alg == "RS512"
	case *ecdsa.PublicKey:
		return alg == "ES256" && key.Curve == elliptic.P256() || alg == "ES384" && key.Curve == elliptic.P384()
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// keySet is an immutable set of keys, swapped whole on refresh.
type keySet struct {
	byKID   map[string]*publicKey
	noKID   []*publicKey // keys without a "kid": tried for tokens without one
	fetched time.Time
}

// lookup returns the key for a token's kid and alg, or nil.
func (s *keySet) lookup(kid, alg string) *publicKey {
	if s == nil {
		return nil
	}
	if kid != "" {
		if k := s.byKID[kid]; k != nil && k.fits(alg) {
			return k
		}
		return nil
	}
	for _, k := range s.noKID {
		if k.fits(alg) {
			return k
		}
	}
	if len(s.byKID) == 1 { // a lone key serves tokens that name none
		for _, k := range s.byKID {
			if k.fits(alg) {
				return k
			}
		}
	}
	return nil
}

// holds reports whether k is still one of the set's keys.
func (s *keySet) holds(k *publicKey) bool {
	if s == nil {
		return false
	}
	if k.kid != "" {
		return s.byKID[k.kid] == k
	}
	for _, x := range s.noKID {
		if x == k {
			return true
		}
	}
	return false
}

// keep makes s reuse old's key values for the keys both hold unchanged, so that verifications
// cached with them stay valid across a refresh that did not rotate them.
func (s *keySet) keep(old *keySet) {
	if old == nil {
		return
	}
	for kid, k := range s.byKID {
		if o := old.byKID[kid]; o != nil && o.alg == k.alg && sameKey(o.key, k.key) {
			s.byKID[kid] = o
		}
	}
	for i, k := range s.noKID {
		for _, o := range old.noKID {
			if o.alg == k.alg && sameKey(o.key, k.key) {
				s.noKID[i] = o
				break
			}
		}
	}
}

func sameKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// jwkJSON is a JSON Web Key (RFC 7517) as far as public verification keys go.
type jwkJSON struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Crv string `json:"crv,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	D   string `json:"d,omitempty"`
}

// parseJWKS parses a JSON Web Key Set. Keys it cannot use (encryption keys, unsupported types and
// curves) are skipped; keys that are broken, private, or share a kid make the whole set an error,
// since a set like that is not what its publisher meant to publish.
func parseJWKS(data []byte) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`key set: no "keys" list`)
	}
	set := &keySet{byKID: make(map[string]*publicKey, len(doc.Keys))}
	for i, raw := range doc.Keys {
		var j jwkJSON
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("key set: keys[%d]: %w", i, err)
		}
		k, err := parseJWK(j)
		if err != nil {
			return nil, fmt.Errorf("key set: keys[%d] (kid %q): %w", i, j.Kid, err)
		}
		if k == nil {
			continue
		}
		if k.kid == "" {
			set.noKID = append(set.noKID, k)
			continue
		}
		if _, dup := set.byKID[k.kid]; dup {
			return nil, fmt.Errorf("key set: keys[%d]: duplicate kid %q", i, k.kid)
		}
		set.byKID[k.kid] = k
	}
	return set, nil
}

// parseJWK returns the key j describes, nil when it is not a signature verification key of a
// supported kind.
func parseJWK(j jwkJSON) (*publicKey, error) {
	if j.Use != "" && j.Use != "sig" {
		return nil, nil
	}
	if j.D != "" {
		return nil, errors.New("a private key: publish public keys only")
	}
	k := &publicKey{kid: j.Kid, alg: j.Alg}
	switch j.Kty {
	case "RSA":
		n, err := b64int(j.N, "n")
		if err != nil {
			return nil, err
		}
		e, err := b64int(j.E, "e")
		if err != nil {
			return nil, err
		}
		if n.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA modulus of %d bits: want at least %d", n.BitLen(), minRSABits)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
			return nil, errors.New("RSA exponent out of range")
		}
		k.key = &rsa.PublicKey{N: n, E: int(e.Int64())}
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		default:
			return nil, nil // P-521 (ES512) and others are not accepted
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err := b64fixed(j.X, "x", size)
		if err != nil {
			return nil, err
		}
		y, err := b64fixed(j.Y, "y", size)
		if err != nil {
			return nil, err
		}
		point := make([]byte, 0, 1+2*size)
		point = append(append(append(point, 4), x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("EC point: %w", err)
		}
		k.key = pub
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, nil
		}
		x, err := b64fixed(j.X, "x", ed25519.PublicKeySize)
		if err != nil {
			return nil, err
		}
		k.key = ed25519.PublicKey(x)
	default:
		return nil, nil // "oct" secrets never verify tokens from a key set
	}
	if k.alg != "" && !k.fits(k.alg) {
		return nil, fmt.Errorf("alg %q does not fit a %s key", k.alg, j.Kty)
	}
	return k, nil
}

func b64int(s, name string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%q: want a base64url number", name)
	}
	return new(big.Int).SetBytes(b), nil
}

func b64fixed(s, name string, size int) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("%q: want %d base64url bytes", name, size)
	}
	return b, nil
}

// keySource loads a key set: a file or a URL.
type keySource interface {
	load(ctx context.Context) ([]byte, error)
	String() string
}

// inlineSource is a key set written in the configuration.
type inlineSource string

func (s inlineSource) load(context.Context) ([]byte, error) { return []byte(s), nil }
func (inlineSource) String() string                         { return "(inline)" }

type fileSource string

func (f fileSource) load(context.Context) ([]byte, error) {
	fh, err := os.Open(string(f))
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return readAllMax(fh)
}

func (f fileSource) String() string { return string(f) }

type urlSource struct {
	url    string
	client *http.Client
}

func (u urlSource) load(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("GET %s: %s", u.url, resp.Status)
	}
	return readAllMax(resp.Body)
}

func (u urlSource) String() string { return u.url }

func readAllMax(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJWKSBytes {
		return nil, fmt.Errorf("key set larger than %d bytes", maxJWKSBytes)
	}
	return data, nil
}

// keyRing is a provider's current key set and what keeps it fresh: refresh on an interval (run by
// the Authenticator), and on demand when a token names an unknown key id, at most once per
// minRefresh. A failed fetch keeps the keys it had.
type keyRing struct {
	src        keySource
	minRefresh time.Duration
	now        func() time.Time
	onError    func(src string, err error)

	set atomic.Pointer[keySet]

	mu         sync.Mutex // serialises fetches
	lastDemand time.Time  // guarded by mu: when a fetch on demand last ran
}

// refresh fetches the set and swaps it in.
func (r *keyRing) refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetchLocked(ctx)
}

func (r *keyRing) fetchLocked(ctx context.Context) error {
	data, err := r.src.load(ctx)
	if err == nil {
		var set *keySet
		if set, err = parseJWKS(data); err == nil {
			set.fetched = r.now()
			set.keep(r.set.Load())
			r.set.Store(set)
			return nil
		}
	}
	err = fmt.Errorf("key set %s: %w", r.src, err)
	if r.onError != nil {
		r.onError(r.src.String(), err)
	}
	return err
}

// lookup returns the key for kid and alg, fetching the set again once when kid is unknown and no
// fetch on demand ran in the last minRefresh.
func (r *keyRing) lookup(ctx context.Context, kid, alg string) *publicKey {
	before := r.set.Load()
	if k := before.lookup(kid, alg); k != nil {
		return k
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur := r.set.Load(); cur != before { // another call fetched while this one waited
		if k := cur.lookup(kid, alg); k != nil {
			return k
		}
	}
	now := r.now()
	if !r.lastDemand.IsZero() && now.Sub(r.lastDemand) < r.minRefresh {
		return nil
	}
	r.lastDemand = now
	if r.fetchLocked(ctx) != nil {
		return nil
	}
	return r.set.Load().lookup(kid, alg)
}
