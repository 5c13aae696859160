// Package catalog implements shop.catalog.v1.CatalogService, the example shop's product catalog
// and live inventory, over an in-memory store that starts with 12 deterministic seed products
// ("p1" to "p12"; "p12" is discontinued).
//
// Stored products are never modified in place: a stock change stores a new message. Reads hand out
// stored messages (or projections sharing their values) without copying.
package catalog
