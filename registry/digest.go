package registry

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"slices"
	"time"

	"google.golang.org/protobuf/reflect/protoregistry"
)

// Digest identifies a registration's content: the hex SHA-256 of its descriptor set as
// DescriptorSetOf serializes it, its endpoints, its services and the cluster it names, if any
// (empty: none; then the digest is what it was before registrations could name one). Endpoints
// and services count as sets: order and repeats do not matter. Equal descriptors give the equal
// digest whatever their source and registration order. A registration on a named cluster hashes
// the cluster's name, not its endpoints: the config file changes those, not the registration.
//
// Source info counts: comments become descriptions in OpenAPI and GraphQL, so a changed comment is
// a changed registration. A set compiled from .proto therefore equals one uploaded with source info
// (protoc --include_source_info, or DescriptorSetOf of the compiled files), not one without.
func Digest(files *protoregistry.Files, endpoints, services []string, cluster string) string {
	h := sha256.New()
	h.Write([]byte("protogate registration v1\x00"))
	var set []byte
	if files != nil {
		var err error
		if set, err = deterministic.Marshal(descriptorSetOf(files)); err != nil {
			// Cannot happen with AllowPartial; hash the failure rather than a partial set.
			set = []byte("unserializable: " + err.Error())
		}
	}
	writeChunk(h, set)
	writeList(h, endpoints)
	writeList(h, services)
	if cluster != "" {
		writeChunk(h, []byte(cluster))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// VersionDigest identifies a version of a registration made through the admin API: content, the
// Digest of its content, and what else makes it differ from another version of the same content:
// the services requested (empty: all; they count as a set, and decide what a refresh asks for,
// so a version that requests its only service is not one that requests all), and how often
// reflection asks its backend again (0: never) and where (counted only with a refresh). Two versions
// share a digest only when they agree on all of it. A version with none of these, no services
// requested and no refresh, has its content's digest, as before they counted: the digest stored
// with it stays valid.
func VersionDigest(content string, requested []string, refresh time.Duration, reflectFrom string) string {
	if len(requested) == 0 && refresh <= 0 {
		return content
	}
	if refresh <= 0 {
		reflectFrom = "" // asked once: where from is not part of the version
	}
	h := sha256.New()
	h.Write([]byte("protogate version v2\x00"))
	writeChunk(h, []byte(content))
	writeList(h, requested)
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(max(refresh, 0))))
	writeChunk(h, []byte(reflectFrom))
	return hex.EncodeToString(h.Sum(nil))
}

// writeList writes a sorted, repeat-free copy of list, each element length-prefixed after a count,
// so that no two different lists write the same bytes.
func writeList(h hash.Hash, list []string) {
	sorted := slices.Clone(list)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(sorted))))
	for _, s := range sorted {
		writeChunk(h, []byte(s))
	}
}

func writeChunk(h hash.Hash, b []byte) {
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
	h.Write(b)
}
