package orders

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	commonv1 "github.com/protogate/gateway/gen/shop/common/v1"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
)

// priceCents is the price list, in euro cents, of products "p1" to "p12". It mirrors the catalog
// service's seed prices so the order service never has to call the catalog.
var priceCents = [...]int64{2499, 1850, 3900, 12990, 24900, 8995, 3499, 4200, 5990, 1499, 6450, 2999}

// unitPrice returns the price of one unit of product id.
func unitPrice(id string) (*commonv1.Money, bool) {
	digits, ok := strings.CutPrefix(id, "p")
	n, err := strconv.Atoi(digits)
	if !ok || err != nil || n < 1 || n > len(priceCents) || strconv.Itoa(n) != digits {
		return nil, false
	}
	return eur(priceCents[n-1]), true
}

const (
	// seedUsers is how many users have seed orders: "1" to "24", as in the user service.
	seedUsers = 24
	// SeedCount is how many orders a new Server starts with: "o1" to "o84". Odd-numbered users
	// have four orders, even-numbered users three.
	SeedCount = 84
)

// seedEpoch is the creation time of the oldest seed order.
var seedEpoch = time.Date(2024, time.January, 3, 10, 0, 0, 0, time.UTC)

// seedStatuses is indexed by an order's number modulo 5, so every user's orders vary in status.
var seedStatuses = [...]ordersv1.OrderStatus{
	ordersv1.OrderStatus_ORDER_STATUS_CANCELLED,
	ordersv1.OrderStatus_ORDER_STATUS_PENDING,
	ordersv1.OrderStatus_ORDER_STATUS_PAID,
	ordersv1.OrderStatus_ORDER_STATUS_SHIPPED,
	ordersv1.OrderStatus_ORDER_STATUS_DELIVERED,
}

var (
	cardBrands    = [...]string{"visa", "mastercard", "amex"}
	giftMessages  = [...]string{"Happy birthday!", "Congratulations on the new lab!", "With thanks for all the proofs.", "Enjoy, and mind the cat."}
	deliveryTimes = [...]time.Duration{48 * time.Hour, 72 * time.Hour, 120 * time.Hour, 36*time.Hour + 30*time.Minute}
)

// seed returns fresh copies of the seed orders, "o1" to "o84" in user order: "o1" to "o4" belong to
// user "1", "o5" to "o7" to user "2", and so on. It reads no clock and no randomness.
func seed() []*ordersv1.Order {
	out := make([]*ordersv1.Order, 0, SeedCount)
	for user := 1; user <= seedUsers; user++ {
		for range 3 + user%2 {
			out = append(out, seedOrder(len(out)+1, user))
		}
	}
	return out
}

// seedOrder returns order number k of user. Creation times are spread over the seed period in an
// order unrelated to k (31 and 84 are coprime, so every k gets its own slot), so "newest first"
// differs from id order.
func seedOrder(k, user int) *ordersv1.Order {
	o := &ordersv1.Order{
		Id:               fmt.Sprintf("o%d", k),
		UserId:           fmt.Sprint(user),
		Status:           seedStatuses[k%len(seedStatuses)],
		CreatedAt:        timestamppb.New(seedEpoch.Add(time.Duration(k*31%SeedCount) * (26*time.Hour + 17*time.Minute))),
		DeliveryEstimate: durationpb.New(deliveryTimes[k%len(deliveryTimes)]),
	}
	total := eur(0)
	for j := range 1 + k%4 {
		product := (k*5+j*7)%len(priceCents) + 1 // 7 and 12 are coprime: no product twice in an order
		item := &ordersv1.LineItem{
			ProductId: fmt.Sprintf("p%d", product),
			Quantity:  int32(1 + (k+j)%3),
			UnitPrice: eur(priceCents[product-1]),
		}
		o.Items = append(o.Items, item)
		// Seed amounts are small: these cannot overflow.
		line, _ := times(item.UnitPrice, int64(item.Quantity))
		total, _ = plus(total, line)
	}
	o.Total = total
	switch {
	case o.Status == ordersv1.OrderStatus_ORDER_STATUS_PENDING:
		// not paid yet
	case k%2 == 0:
		o.Payment = &ordersv1.Order_Card{Card: &ordersv1.Card{
			Brand:    cardBrands[k%len(cardBrands)],
			Last4:    fmt.Sprintf("%04d", k*1237%10000),
			ExpMonth: int32(1 + k%12),
			ExpYear:  int32(2027 + k%4),
		}}
	default:
		o.Payment = &ordersv1.Order_VoucherCode{VoucherCode: fmt.Sprintf("SCIENCE-%03d", k)}
	}
	if k%4 == 2 {
		o.GiftMessage = wrapperspb.String(giftMessages[k/4%len(giftMessages)])
	}
	switch {
	case k%3 == 0:
		o.Notes = map[string]string{"delivery": "leave with the neighbour"}
	case k%6 == 1:
		o.Notes = map[string]string{"packaging": "plastic-free", "priority": "high"}
	}
	return o
}
