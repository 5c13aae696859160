package store

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"path/filepath"
	"slices"
	"time"
)

// The on-disk format; doc.go describes it. Every file is a header, a body and a trailer:
//
//	magic [8]byte | format uint32 LE | CRC32C(magic, format) uint32 LE | body | CRC32C(all before) uint32 LE
//
// The header layout is the same in every format, so that any gateway can tell a newer file from a
// damaged one: a header whose own checksum holds and whose format is above formatVersion is newer.
const (
	formatVersion = 1
	headerSize    = 16
	trailerSize   = 4
	manifestMagic = "PGW-MAN\n"
	recordMagic   = "PGW-REC\n"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendHeader starts a store file of the given kind (magic) and format.
func appendHeader(b []byte, magic string, format uint32) []byte {
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint32(b, format)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[len(b)-12:], castagnoli))
}

// appendTrailer ends a store file that starts with appendHeader.
func appendTrailer(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// unseal checks the header and trailer of the store file rel (relative to the data dir) and
// returns its body.
func unseal(dir, rel, magic string, b []byte) ([]byte, error) {
	path := filepath.Join(dir, rel)
	if len(b) < headerSize {
		return nil, corrupt(path, fmt.Sprintf("truncated to %d bytes", len(b)))
	}
	if string(b[:8]) != magic {
		return nil, corrupt(path, "not a gateway store file of this kind")
	}
	if crc32.Checksum(b[:12], castagnoli) != binary.LittleEndian.Uint32(b[12:16]) {
		return nil, corrupt(path, "header checksum mismatch")
	}
	switch format := binary.LittleEndian.Uint32(b[8:12]); {
	case format > formatVersion:
		return nil, &kindError{kind: ErrNewerFormat, msg: fmt.Sprintf("data dir %s: store format %d is newer than this "+
			"gateway understands (%d); upgrade the gateway or use another --data-dir", dir, format, formatVersion)}
	case format == 0:
		return nil, corrupt(path, "format 0")
	}
	if len(b) < headerSize+trailerSize {
		return nil, corrupt(path, fmt.Sprintf("truncated to %d bytes", len(b)))
	}
	end := len(b) - trailerSize
	if crc32.Checksum(b[:end], castagnoli) != binary.LittleEndian.Uint32(b[end:]) {
		return nil, corrupt(path, "checksum mismatch")
	}
	return b[headerSize:end], nil
}

// encodeManifest returns the manifest file of c. Body:
//
//	count uvarint, then per record sorted by name, version: name string | version uvarint | SHA-256 [32]byte
//	count uvarint, then per active name sorted:              name string | version uvarint
//
// where a string is its length as a uvarint, then its bytes.
func encodeManifest(c *catalog) []byte {
	keys := c.keys()
	b := make([]byte, 0, headerSize+trailerSize+len(keys)*64)
	b = appendHeader(b, manifestMagic, formatVersion)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		sum := c.sums[k]
		b = appendString(b, k.name)
		b = binary.AppendUvarint(b, k.version)
		b = append(b, sum[:]...)
	}
	names := slices.Sorted(maps.Keys(c.active))
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = appendString(b, name)
		b = binary.AppendUvarint(b, c.active[name])
	}
	return appendTrailer(b)
}

// decodeManifest parses a manifest body, accepting only what encodeManifest writes. A non-empty
// why says what is wrong.
func decodeManifest(body []byte) (c *catalog, why string) {
	d := decoder{b: body}
	c = newCatalog()
	var prev key
	for i, n := uint64(0), d.uvarint(); i < n && d.why == ""; i++ {
		k := key{name: d.string(), version: d.uvarint()}
		var sum [sha256.Size]byte
		copy(sum[:], d.next(sha256.Size))
		switch {
		case d.why != "":
		case k.name == "" || k.version == 0:
			d.fail("record with empty name or version 0")
		case i > 0 && compareKeys(prev, k) >= 0:
			d.fail("records out of order")
		default:
			c.sums[k] = sum
			prev = k
		}
	}
	var prevName string
	for i, n := uint64(0), d.uvarint(); i < n && d.why == ""; i++ {
		name, version := d.string(), d.uvarint()
		_, stored := c.sums[key{name, version}]
		switch {
		case d.why != "":
		case i > 0 && name <= prevName:
			d.fail("active versions out of order")
		case !stored:
			d.fail(fmt.Sprintf("active version %d of %q is not stored", version, name))
		default:
			c.active[name] = version
			prevName = name
		}
	}
	if d.why == "" && len(d.b) > 0 {
		d.fail(fmt.Sprintf("%d bytes after the end", len(d.b)))
	}
	return c, d.why
}

// encodeRecord returns the record file of r. Body:
//
//	name string | version uvarint | digest string | created seconds varint | nanoseconds uvarint | payload string
func encodeRecord(r Record) []byte {
	b := make([]byte, 0, headerSize+trailerSize+len(r.Name)+len(r.Digest)+len(r.Payload)+5*binary.MaxVarintLen64)
	b = appendHeader(b, recordMagic, formatVersion)
	b = appendString(b, r.Name)
	b = binary.AppendUvarint(b, r.Version)
	b = appendString(b, r.Digest)
	b = binary.AppendVarint(b, r.CreatedAt.Unix())
	b = binary.AppendUvarint(b, uint64(r.CreatedAt.Nanosecond()))
	b = appendString(b, r.Payload)
	return appendTrailer(b)
}

// decodeRecord parses a record body, accepting only what encodeRecord writes. The payload shares
// memory with body. A non-empty why says what is wrong.
func decodeRecord(body []byte) (r Record, why string) {
	d := decoder{b: body}
	r.Name = d.string()
	r.Version = d.uvarint()
	r.Digest = d.string()
	sec, nsec := d.varint(), d.uvarint()
	if payload := d.bytes(); len(payload) > 0 {
		r.Payload = payload
	}
	switch {
	case d.why != "":
	case r.Name == "" || r.Version == 0:
		d.fail("record with empty name or version 0")
	case nsec >= uint64(time.Second):
		d.fail("nanoseconds out of range")
	case len(d.b) > 0:
		d.fail(fmt.Sprintf("%d bytes after the end", len(d.b)))
	}
	r.CreatedAt = time.Unix(sec, int64(nsec)).UTC()
	return r, d.why
}

func appendString[S string | []byte](b []byte, s S) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decoder reads a body front to back. After the first problem it reads nothing more and keeps
// saying why.
type decoder struct {
	b   []byte
	why string
}

func (d *decoder) fail(why string) {
	if d.why == "" {
		d.why = why
	}
	d.b = nil
}

// next returns the next n bytes, sharing memory with the body, or nil when there are fewer.
func (d *decoder) next(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail("truncated body")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// bytes returns the next string, as written by appendString, sharing memory with the body.
func (d *decoder) bytes() []byte {
	return d.next(d.uvarint())
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	return string(d.bytes())
}
