package routing

// ValidMetadataKey reports whether k can be carried as gRPC metadata: 1*( %x30-39 / %x61-7A / "_" /
// "-" / "." ). Fronts that turn HTTP headers into metadata (REST, gRPC-Web) drop other keys.
func ValidMetadataKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// ValidMetadataValue reports whether v is a legal non-binary gRPC metadata value: printable ASCII,
// 1*( %x20-7E ), or empty.
func ValidMetadataValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}
