// Package users implements shop.users.v1.UserService, the example shop's customer accounts, over an
// in-memory store that starts with 24 deterministic seed users ("1" is Ada Lovelace).
//
// Stored users are never modified in place: an update stores a changed copy. Reads therefore hand
// out the stored message itself, and only writes take the store's lock exclusively.
package users
