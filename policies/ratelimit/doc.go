// Package ratelimit bounds how often and how many at once the gateway admits calls of a method: token
// buckets, in process or shared by every replica through Redis, and concurrency limits.
//
// A Limiter is long-lived: the policies assembler builds one for the rate_limit section and keeps it
// across snapshots while that section is unchanged, so reloads do not refill anyone's bucket. Each
// snapshot compiles its rules into Steps (Limiter.Step, Limiter.ConcurrencyStep); a rule's Steps find
// the same buckets again by the rule's name and key.
//
// Data flow of one decision: the Step derives the call's key (client IP, consumer, method or a
// header's value), looks the bucket up in a sharded table (a read lock and a map lookup, no
// allocation for a key seen before) and takes the call's cost from it with one atomic
// compare-and-swap. The bucket is the Generic Cell Rate Algorithm form of a token bucket: one number,
// the time at which the bucket would be full again, so the same decision fits in one atomic word in
// process and in one key updated by one Lua script in Redis. A refusal is a RESOURCE_EXHAUSTED
// policy.Denial carrying google.rpc.RetryInfo and QuotaFailure, and Retry-After and the rate-limit
// header fields for the HTTP fronts: by default RateLimit and RateLimit-Policy of
// draft-ietf-httpapi-ratelimit-headers-10, or with header_fields: draft-06 the RateLimit-Limit,
// -Remaining, -Reset and -Policy of its draft 06 (see fields). An admitted call hands the front the
// same fields (Call.SetResponseHeaders: HTTP headers, or response header metadata on gRPC), so
// clients can slow down before they are refused; a rule's headers: false leaves them out of both.
// What does not change is rendered once per Step; per call only the tokens left and the seconds
// until the bucket is full, into values a small bucket's Step has rendered ahead.
//
// A GraphQL operation is priced by its complexity: the GraphQL front calls WithOperationCost once per
// operation, and the first call of the operation that a rule limits takes that many tokens from the
// rule's bucket; the operation's other calls under the same rule are covered by it.
package ratelimit
