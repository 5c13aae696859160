package catalog

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	catalogv1 "github.com/protogate/gateway/gen/shop/catalog/v1"
	commonv1 "github.com/protogate/gateway/gen/shop/common/v1"
)

// SeedCount is how many products a new Server starts with: ids "p1" to "p12".
const SeedCount = 12

// seedUpdated is when the seed catalog was last edited; products are stamped at fixed steps after.
var seedUpdated = time.Date(2024, time.March, 14, 15, 9, 26, 0, time.UTC)

// item is one row of the seed table; seedProduct turns it into a Product.
type item struct {
	name        string
	description string
	cents       int64 // price in euro cents; the order service's price list mirrors these
	category    catalogv1.Category
	tags        []string
	attributes  map[string]string
	stock       int64
	rating      float64 // 0 leaves the rating unset: no reviews yet
	dimensions  *catalogv1.Product_Dimensions
	barcodes    []uint64
}

func dims(width, height, depth float64, weight float32) *catalogv1.Product_Dimensions {
	return &catalogv1.Product_Dimensions{WidthCm: width, HeightCm: height, DepthCm: depth, WeightKg: weight}
}

const (
	books       = catalogv1.Category_CATEGORY_BOOKS
	electronics = catalogv1.Category_CATEGORY_ELECTRONICS
	home        = catalogv1.Category_CATEGORY_HOME
	toys        = catalogv1.Category_CATEGORY_TOYS
)

// discontinued is the one product no longer sold; its stock is 0.
const discontinued = "p12"

// items is the seed table, in id order. Barcodes of p4 and p11 exceed 2^53 (they are internal
// variant codes, not EAN-13), so JSON clients must read uint64 as strings to get them exactly.
var items = [SeedCount]item{
	{"The Analytical Engine Handbook", "Notes on the first general-purpose computer, with Ada's famous Note G.", 2499, books,
		[]string{"computing", "history", "bestseller"}, map[string]string{"format": "hardcover", "language": "en", "pages": "412"},
		42, 4.8, dims(16, 24, 3.2, 0.82), []uint64{9780000000017, 9780000000024}},
	{"On the Origin of Species (Illustrated)", "Darwin's classic with 200 colour plates.", 1850, books,
		[]string{"biology", "classic"}, map[string]string{"format": "paperback", "language": "en", "pages": "560"},
		118, 4.6, dims(15, 23, 4, 0.9), []uint64{9780000000031}},
	{"Principia Mathematica Reprint", "Newton's three books, facsimile edition in Latin.", 3900, books,
		[]string{"physics", "classic", "latin"}, map[string]string{"format": "hardcover", "language": "la"},
		7, 0, dims(19, 26, 5.5, 1.4), []uint64{9780000000048}},
	{"Mechanical Keyboard", "Tenkeyless, hot-swappable switches, ISO layout.", 12990, electronics,
		[]string{"peripherals", "bestseller"}, map[string]string{"colour": "graphite", "layout": "ISO-DE", "switch": "brown"},
		25, 4.4, dims(36, 4, 14, 0.95), []uint64{4006381333931, 9007199254740993}},
	{"Noise-Cancelling Headphones", "Over-ear, 30 hours of battery, folds flat.", 24900, electronics,
		[]string{"audio", "travel"}, map[string]string{"colour": "black", "connectivity": "bluetooth 5.3"},
		13, 4.2, dims(17, 20, 8, 0.25), []uint64{4006381333948}},
	{"Raspberry Pi Starter Kit", "Board, case, power supply and a 64 GB card.", 8995, electronics,
		[]string{"maker", "computing"}, map[string]string{"ram": "8GB", "storage": "64GB"},
		60, 4.7, dims(12, 5, 9, 0.3), []uint64{5056561800004}},
	{"Cast Iron Skillet", "Pre-seasoned, 26 cm, lasts a lifetime.", 3499, home,
		[]string{"kitchen"}, map[string]string{"diameter": "26cm", "material": "cast iron"},
		31, 4.9, dims(26, 5, 45, 2.6), []uint64{4002293001010}},
	{"Pour-Over Coffee Set", "Glass dripper, kettle and 100 filters.", 4200, home,
		[]string{"kitchen", "coffee"}, map[string]string{"material": "borosilicate glass", "capacity": "600ml"},
		19, 4.1, dims(22, 25, 15, 1.1), []uint64{4002293001027}},
	{"Linen Throw Blanket", "Stone-washed linen, 130 by 170 cm.", 5990, home,
		[]string{"textiles", "gift"}, map[string]string{"colour": "sage", "material": "linen"},
		8, 0, dims(30, 8, 25, 1.2), []uint64{4002293001034}},
	{"Wooden Abacus", "Ten rows of beech beads, for small mathematicians.", 1499, toys,
		[]string{"maths", "kids", "gift"}, map[string]string{"age": "3+", "material": "beech"},
		77, 4.5, dims(30, 25, 6, 0.7), []uint64{4260000000011}},
	{"Orrery Model Kit", "Brass clockwork model of the solar system to build.", 6450, toys,
		[]string{"astronomy", "maker", "gift"}, map[string]string{"age": "12+", "material": "brass", "pieces": "214"},
		11, 4.3, dims(28, 30, 28, 1.9), []uint64{4260000000028, 18446744073709551557}},
	{"Tesla Coil Desk Toy", "Plays music with sparks. No longer made.", 2999, toys,
		[]string{"physics", "retired"}, map[string]string{"age": "14+", "voltage": "230V"},
		0, 3.1, dims(10, 18, 10, 0.5), []uint64{4260000000035}},
}

// seed returns fresh copies of the seed products, "p1" to "p12". It reads no clock and no
// randomness: every call returns the same products.
func seed() []*catalogv1.Product {
	out := make([]*catalogv1.Product, len(items))
	for i, it := range items {
		out[i] = seedProduct(i+1, it)
	}
	return out
}

func seedProduct(n int, it item) *catalogv1.Product {
	p := &catalogv1.Product{
		Id:          fmt.Sprintf("p%d", n),
		Name:        it.name,
		Description: it.description,
		Price:       eur(it.cents),
		Category:    it.category,
		Tags:        slices.Clone(it.tags),
		Attributes:  maps.Clone(it.attributes),
		Stock:       it.stock,
		// A PNG signature followed by one byte that tells the thumbnails apart.
		Thumbnail:    []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', byte(n)},
		UpdatedAt:    timestamppb.New(seedUpdated.Add(time.Duration(n) * 26 * time.Hour)),
		Dimensions:   proto.CloneOf(it.dimensions),
		Barcodes:     slices.Clone(it.barcodes),
		Discontinued: fmt.Sprintf("p%d", n) == discontinued,
	}
	if it.rating != 0 {
		p.Rating = wrapperspb.Double(it.rating)
	}
	return p
}

// eur returns the amount of cents euro cents.
func eur(cents int64) *commonv1.Money {
	return &commonv1.Money{CurrencyCode: "EUR", Units: cents / 100, Nanos: int32(cents%100) * 10_000_000}
}
