// Package store persists the registry: the versions of every registration that it keeps, and which
// version of each is active.
//
// The registry is the only user. It loads the whole State once at start, then calls Commit for
// each accepted change (a new version, a rollback to an earlier one, a deletion) before it
// publishes the snapshot built from that change, so a gateway never serves what it could lose in a
// restart. It calls Drop for the versions it no longer keeps (beyond keep_versions), never for an
// active one. Store is an interface so that a distributed implementation (etcd, for several
// replicas) can follow without touching the registry; NewMemory serves a gateway without
// --data-dir and tests, Open the embedded default in --data-dir. Both check commits and drops the
// same way (see catalog.go).
//
// # Data dir
//
//	LOCK               flock'ed while a gateway uses the dir; says "pid N" of the holder
//	MANIFEST           the state: every record's name, version and SHA-256, and the active versions
//	records/<sha256>   one file per record, named by the SHA-256 of its content; never changed,
//	                   deleted once MANIFEST no longer lists it
//
// Every file is a header, a body and a trailer:
//
//	magic [8]byte   "PGW-MAN\n" or "PGW-REC\n"
//	format uint32   little endian; 1 is the only format so far
//	crc uint32      CRC32C (Castagnoli) of magic and format
//	body            see encodeManifest and encodeRecord in format.go: uvarint counts and lengths
//	crc uint32      CRC32C of everything before it
//
// The header keeps this layout in every future format, so a gateway can always tell a store written
// by a newer gateway (header intact, format above its own: ErrNewerFormat) from a damaged one
// (ErrCorrupt). A file whose header, checksum or structure is wrong, a record file whose SHA-256 is
// not its name, or a file MANIFEST lists but that is missing, is reported as ErrCorrupt naming the
// file, and left as it is: the store never repairs, wipes or rewrites what it cannot read.
//
// # Commit
//
// A commit writes each new record to a temporary file, fsyncs it and renames it to
// records/<sha256>, then fsyncs records/. Then it writes the new MANIFEST the same way (temporary
// file, fsync, rename over MANIFEST, fsync of the data dir). The rename of MANIFEST is the commit
// point: a crash before it leaves the old MANIFEST, which does not list the new record files, so
// the old state; a crash after it leaves the new state whole, its record files already durable.
// Store files are only ever created whole and renamed into place; none is modified in place (a
// failed write removes its own temporary file), and a record file is deleted only when MANIFEST
// no longer lists it (see Drop and Leftovers).
//
// Records are named by content so that "this version is already stored, with the same content?"
// is a comparison of SHA-256 sums in MANIFEST, without reading payloads, and so that rewriting one
// after a crash is harmless. MANIFEST is rewritten whole by every commit and drop: 35 bytes per
// record plus its name, small next to the payloads, and it keeps each to one atomic rename.
//
// # Drop
//
// A drop writes the new MANIFEST, which no longer lists the dropped records, the same way; its
// rename is the commit point. Only then does it delete the record files that no record the new
// MANIFEST lists names (format 1 encodes a record's name and version in its file, so two records
// never share one, but the store does not rely on it), and fsync records/. A file the new
// MANIFEST lists is never deleted. The active version of a registration is never dropped. A crash
// before the rename leaves the old state, whole; after it, the new one. Once MANIFEST is durable
// the drop has happened: a record file that could not be deleted is a leftover, not an error.
//
// # Leftovers
//
// A crash can leave a temporary file, or a record file MANIFEST does not list: one a commit wrote
// before its commit point, or one a drop had not deleted yet. Load never reads them, so they
// change nothing; a record file written again has the same name and bytes. Open, once it has read
// MANIFEST, deletes them, so that a drop's files do not outlive the next start. It deletes only
// names the store writes (a SHA-256 in hex in records/, and the temporary files) and nothing when
// it fails.
//
// # Why files rather than bbolt
//
// bbolt would give atomic commits too, but not the rest of the contract: it checksums only its meta
// pages, so bit rot in a payload would go unnoticed; a damaged bbolt file can panic (invalid page
// type, freelist assertions) or, once truncated, fault through its mmap instead of returning an
// error; and a read-write open may write to the file, where a damaged store must be left as it is.
// A registry changes at human pace and is read whole at start, so plain files, each checked with
// CRC32C and SHA-256, do all that is needed in a few hundred lines that can be read in one sitting.
package store
