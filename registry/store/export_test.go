package store

import "crypto/sha256"

// FormatVersion is the format this gateway writes.
const FormatVersion = formatVersion

// SealManifest and SealRecord frame body as a MANIFEST or record file of the given format, with
// valid checksums, so that tests can craft files the store would not write.
func SealManifest(format uint32, body []byte) []byte {
	return appendTrailer(append(appendHeader(nil, manifestMagic, format), body...))
}

func SealRecord(format uint32, body []byte) []byte {
	return appendTrailer(append(appendHeader(nil, recordMagic, format), body...))
}

// ManifestListing returns a MANIFEST listing recordFile as version of name, active.
func ManifestListing(name string, version uint64, recordFile []byte) []byte {
	c := newCatalog()
	c.sums[key{name, version}] = sha256.Sum256(recordFile)
	c.active[name] = version
	return encodeManifest(c)
}

// ManifestSharing returns a MANIFEST listing recordFile as each of versions of name, the first
// active: records that share one file, which the store never writes itself.
func ManifestSharing(name string, recordFile []byte, versions ...uint64) []byte {
	c := newCatalog()
	for _, v := range versions {
		c.sums[key{name, v}] = sha256.Sum256(recordFile)
	}
	c.active[name] = versions[0]
	return encodeManifest(c)
}
