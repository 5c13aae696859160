package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// apiKeys is the table of accepted API keys, by the SHA-256 digest of the key.
//
// The lookup is a map access on the digest of what the caller sent, then a constant-time comparison
// of the digests: what a timing difference could reveal is how much of a SHA-256 digest matched,
// which tells nothing about any key (finding a key from its digest is a preimage attack).
type apiKeys struct {
	header string
	byHash map[[sha256.Size]byte]*apiKeyEntry
}

type apiKeyEntry struct {
	digest   [sha256.Size]byte
	identity *policy.Identity
	upstream []string
}

func newAPIKeys(cfg config.APIKeys, idKeys identityKeys) (*apiKeys, error) {
	k := &apiKeys{
		header: strings.ToLower(cmpOr(cfg.Header, config.DefaultAPIKeyHeader)),
		byHash: make(map[[sha256.Size]byte]*apiKeyEntry, len(cfg.Keys)),
	}
	for i, key := range cfg.Keys {
		var d [sha256.Size]byte
		if n, err := hex.Decode(d[:], []byte(key.SHA256)); err != nil || n != sha256.Size {
			return nil, fmt.Errorf("api_keys.keys[%d]: sha256 is not a hex SHA-256 digest", i)
		}
		if _, dup := k.byHash[d]; dup {
			return nil, fmt.Errorf("api_keys.keys[%d]: duplicate digest", i)
		}
		if key.Consumer == "" || !validValue(key.Consumer) {
			return nil, fmt.Errorf("api_keys.keys[%d]: consumer must be printable ASCII", i)
		}
		id := &policy.Identity{Consumer: key.Consumer, Method: "api_key", Provider: config.ProviderAPIKey, Scopes: key.Scopes}
		k.byHash[d] = &apiKeyEntry{digest: d, identity: id, upstream: idKeys.upstream(id)}
	}
	return k, nil
}

// lookup returns the entry of key, nil when no consumer holds it.
func (k *apiKeys) lookup(key string) *apiKeyEntry {
	d := sha256.Sum256([]byte(key))
	e := k.byHash[d]
	if e == nil || subtle.ConstantTimeCompare(e.digest[:], d[:]) != 1 {
		return nil
	}
	return e
}

func (k *apiKeys) enabled() bool { return len(k.byHash) > 0 }
