// Package orders implements shop.orders.v1.OrderService, the example shop's orders, over an
// in-memory store that starts with 84 deterministic seed orders: at least three for each of the
// users "1" to "24".
//
// Unit prices come from a fixed price list mirroring the catalog's seed prices; the service never
// calls the catalog. Stored orders are never modified in place: a change stores a new message.
package orders
