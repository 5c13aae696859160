package users

import (
	"fmt"
	"slices"
	"strings"
	"time"

	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// SeedCount is how many users a new Server starts with: ids "1" to "24".
const SeedCount = 24

// seedEpoch is when the first seed account was created; the others follow at fixed steps.
var seedEpoch = time.Date(2023, time.January, 2, 9, 30, 0, 0, time.UTC)

// person is one row of the seed table; seedUser turns it into a User.
type person struct {
	name     string
	role     usersv1.Role
	address  *usersv1.User_Address
	nickname string // "" leaves the nickname unset
	tags     []string
	points   int64
}

func addr(street, city, postalCode, country string) *usersv1.User_Address {
	return &usersv1.User_Address{Street: street, City: city, PostalCode: postalCode, Country: country}
}

const (
	customer = usersv1.Role_ROLE_CUSTOMER
	support  = usersv1.Role_ROLE_SUPPORT
	admin    = usersv1.Role_ROLE_ADMIN
)

// people is the seed table, in id order. Loyalty points of users 5, 12 and 16 exceed 2^53, so
// JSON clients must read int64 as strings to get them exactly.
var people = [SeedCount]person{
	{"Ada Lovelace", customer, addr("12 St James's Square", "London", "SW1Y 4JH", "GB"), "Enchantress of Numbers", []string{"vip", "early-adopter"}, 1815},
	{"Alan Turing", admin, addr("78 High Street", "Bletchley", "MK3 6EB", "GB"), "Prof", []string{"staff"}, 1912},
	{"Grace Hopper", support, addr("1 Navy Yard", "Arlington", "22202", "US"), "Amazing Grace", []string{"staff", "mentor"}, 1906},
	{"Marie Curie", customer, addr("11 Rue Pierre et Marie Curie", "Paris", "75005", "FR"), "", []string{"vip"}, 1867},
	{"Albert Einstein", customer, addr("Kramgasse 49", "Bern", "3011", "CH"), "Albertle", nil, 9007199254740993},
	{"Isaac Newton", customer, addr("Woolsthorpe Manor", "Grantham", "NG33 5PD", "GB"), "", []string{"early-adopter"}, 1643},
	{"Charles Darwin", customer, addr("Down House, Luxted Road", "Downe", "BR6 7JT", "GB"), "", nil, 1809},
	{"Nikola Tesla", customer, addr("Hotel New Yorker, 481 8th Avenue", "New York", "10001", "US"), "", []string{"wholesale"}, 1856},
	{"Rosalind Franklin", customer, addr("Birkbeck, Malet Street", "London", "WC1E 7HX", "GB"), "Ros", []string{"vip"}, 1920},
	{"Richard Feynman", customer, addr("1200 E California Blvd", "Pasadena", "91125", "US"), "Dick", []string{"bongos"}, 1918},
	{"Emmy Noether", customer, addr("Bunsenstraße 3", "Göttingen", "37073", "DE"), "", nil, 1882},
	{"Carl Gauss", customer, addr("Kurze Geismarstraße 1", "Göttingen", "37073", "DE"), "Princeps", []string{"vip", "wholesale"}, 9223372036854775807},
	{"Galileo Galilei", customer, addr("Via Vincenzo Galilei 3", "Pisa", "56127", "IT"), "", nil, 1564},
	{"Johannes Kepler", customer, addr("Keplerstraße 2", "Linz", "4020", "AT"), "", []string{"early-adopter"}, 1571},
	{"Niels Bohr", customer, addr("Blegdamsvej 17", "Copenhagen", "2100", "DK"), "", nil, 1885},
	{"Max Planck", customer, addr("Hofgartenstraße 8", "Munich", "80539", "DE"), "", []string{"vip"}, 12345678901234567},
	{"Dorothy Hodgkin", customer, addr("South Parks Road", "Oxford", "OX1 3QZ", "GB"), "", nil, 1910},
	{"Barbara McClintock", customer, addr("1 Bungtown Road", "Cold Spring Harbor", "11724", "US"), "", []string{"wholesale"}, 1902},
	{"Katherine Johnson", support, addr("1 NASA Drive", "Hampton", "23681", "US"), "", []string{"staff"}, 1918},
	{"Claude Shannon", admin, addr("600 Mountain Avenue", "Murray Hill", "07974", "US"), "", []string{"staff", "juggler"}, 1916},
	{"Lise Meitner", support, addr("Frescativägen 24", "Stockholm", "104 05", "SE"), "", []string{"staff"}, 1878},
	{"Srinivasa Ramanujan", customer, addr("Sarangapani Sannidhi Street 18", "Kumbakonam", "612001", "IN"), "", nil, 1729},
	{"Erwin Schrödinger", customer, addr("Pasteurgasse 4", "Vienna", "1090", "AT"), "", []string{"cat-person"}, 1887},
	{"Émilie du Châtelet", customer, addr("Château de Cirey", "Cirey-sur-Blaise", "52110", "FR"), "Émilie", []string{"early-adopter"}, 1706},
}

// seed returns fresh copies of the seed users, ids "1" to "24". It reads no clock and no
// randomness: every call returns the same users.
func seed() []*usersv1.User {
	out := make([]*usersv1.User, len(people))
	for i, p := range people {
		out[i] = seedUser(i+1, p)
	}
	return out
}

func seedUser(n int, p person) *usersv1.User {
	first := strings.ToLower(strings.Fields(p.name)[0])
	first = strings.NewReplacer("é", "e", "É", "e").Replace(first)
	u := &usersv1.User{
		Id:            fmt.Sprint(n),
		Name:          p.name,
		Email:         first + "@example.com",
		Role:          p.role,
		CreatedAt:     timestamppb.New(seedEpoch.Add(time.Duration(n-1) * (11*24*time.Hour + 37*time.Minute))),
		Address:       proto.CloneOf(p.address),
		Tags:          slices.Clone(p.tags),
		Labels:        seedLabels(n, p),
		Preferences:   seedPreferences(n),
		LoyaltyPoints: p.points,
	}
	if p.nickname != "" {
		u.Nickname = wrapperspb.String(p.nickname)
	}
	if n%4 != 0 { // every fourth user has no avatar
		// A PNG signature followed by one byte that tells the avatars apart.
		u.Avatar = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', byte(n)}
	}
	switch n % 3 {
	case 0:
		u.Contact = &usersv1.User_Phone{Phone: fmt.Sprintf("+44 20 7946 %04d", n*37)}
	case 1:
		u.Contact = &usersv1.User_ChatHandle{ChatHandle: "@" + first}
	} // n%3 == 2: no contact channel
	return u
}

func seedLabels(n int, p person) map[string]string {
	region := "eu"
	switch p.address.GetCountry() {
	case "US":
		region = "us"
	case "IN":
		region = "apac"
	}
	labels := map[string]string{"region": region}
	if n%2 == 0 {
		labels["segment"] = "returning"
	} else {
		labels["segment"] = "new"
	}
	if p.role != customer {
		labels["team"] = "shop-ops"
	}
	return labels
}

// seedPreferences varies newsletter, theme, language and notification settings with n, and nests
// an object and a list for users divisible by 5, so preferences exercise every JSON value kind.
func seedPreferences(n int) *structpb.Struct {
	themes := []string{"dark", "light", "system"}
	languages := []string{"en", "fr", "de"}
	fields := map[string]*structpb.Value{
		"newsletter": structpb.NewBoolValue(n%2 == 1),
		"theme":      structpb.NewStringValue(themes[n%len(themes)]),
		"language":   structpb.NewStringValue(languages[n%len(languages)]),
		"font_scale": structpb.NewNumberValue(1 + float64(n%3)/4),
	}
	if n%5 == 0 {
		fields["notifications"] = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"email": structpb.NewBoolValue(true),
			"sms":   structpb.NewBoolValue(false),
		}})
		fields["favorite_categories"] = structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{
			structpb.NewStringValue("books"),
			structpb.NewStringValue("toys"),
		}})
		fields["referrer"] = structpb.NewNullValue()
	}
	return &structpb.Struct{Fields: fields}
}
