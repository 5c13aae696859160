// Package page holds the paging rules shared by the shop's list methods: page sizes, opaque page
// tokens and the order in which ids are listed.
//
// A token names the last item of the page it ends (a cursor), not an offset, so items created or
// changed between two calls do not shift later pages. It also carries a checksum of the cursor and
// of the query it was issued for: a token used with a different filter, or edited, is refused
// instead of silently mis-paging. (The checksum guards against mistakes, not attackers: tokens
// carry nothing secret.)
package page

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
)

const (
	// DefaultSize is the page size when the request leaves it at 0.
	DefaultSize = 10
	// MaxSize is the largest page served; larger requests are cut down to it.
	MaxSize = 100
)

// version prefixes every token so the format can change without misreading old tokens.
const version = 1

// ErrInvalidToken reports a page token that is malformed or was issued for another query.
var ErrInvalidToken = errors.New("page token is invalid or belongs to a different query")

// Size returns the page size to serve for a requested size: DefaultSize for 0, at most MaxSize.
func Size(requested int32) (int, error) {
	switch {
	case requested < 0:
		return 0, fmt.Errorf("page_size must not be negative, got %d", requested)
	case requested == 0:
		return DefaultSize, nil
	case requested > MaxSize:
		return MaxSize, nil
	default:
		return int(requested), nil
	}
}

// EncodeToken returns the token that continues query after cursor.
func EncodeToken(query, cursor string) string {
	b := make([]byte, 0, 5+len(cursor))
	b = append(b, version)
	b = binary.BigEndian.AppendUint32(b, checksum(query, cursor))
	b = append(b, cursor...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeToken returns the cursor of a token issued by EncodeToken for the same query. The empty
// token decodes to the empty cursor: the first page.
func DecodeToken(token, query string) (string, error) {
	if token == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 5 || b[0] != version {
		return "", ErrInvalidToken
	}
	cursor := string(b[5:])
	if binary.BigEndian.Uint32(b[1:5]) != checksum(query, cursor) {
		return "", ErrInvalidToken
	}
	return cursor, nil
}

func checksum(query, cursor string) uint32 {
	h := fnv.New32a()
	// Writes to a hash never fail.
	h.Write([]byte(query))
	h.Write([]byte{0})
	h.Write([]byte(cursor))
	return h.Sum32()
}

// CompareIDs orders ids naturally for ids made of a common prefix and a number ("2" before "10",
// "o9" before "o10"): shorter ids first, then byte-wise. It is a total order on all strings, so
// listings stay stable for any id.
func CompareIDs(a, b string) int {
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	case a < b:
		return -1
	case a > b:
		return 1
	default:
		return 0
	}
}
