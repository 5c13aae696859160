package jsonenc

import "encoding/base64"

// AppendBase64 appends data as a JSON string in standard base64 with padding: how protojson writes
// bytes fields and GraphQL's Bytes scalar is defined.
func AppendBase64(dst, data []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, data)
	return append(dst, '"')
}
