package registry

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"slices"

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
