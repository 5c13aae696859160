package orders

import (
	"errors"
	"fmt"
	"math"

	commonv1 "github.com/protogate/gateway/gen/shop/common/v1"
)

const nanosPerUnit = 1_000_000_000

var errOverflow = errors.New("amount out of range")

// eur returns the amount of cents euro cents.
func eur(cents int64) *commonv1.Money {
	return &commonv1.Money{CurrencyCode: "EUR", Units: cents / 100, Nanos: int32(cents%100) * 10_000_000}
}

// checkMoney reports what makes m an invalid amount: a currency that is not three letters, nanos
// out of range, or nanos whose sign differs from the units'.
func checkMoney(m *commonv1.Money) error {
	units, nanos := m.GetUnits(), m.GetNanos()
	switch {
	case len(m.GetCurrencyCode()) != 3:
		return fmt.Errorf("currency_code %q is not a three-letter code", m.GetCurrencyCode())
	case nanos <= -nanosPerUnit || nanos >= nanosPerUnit:
		return fmt.Errorf("nanos %d out of range", nanos)
	case (units > 0 && nanos < 0) || (units < 0 && nanos > 0):
		return fmt.Errorf("units %d and nanos %d have different signs", units, nanos)
	}
	return nil
}

// times returns m multiplied by q, which must not be negative.
func times(m *commonv1.Money, q int64) (*commonv1.Money, error) {
	if q == 0 {
		return &commonv1.Money{CurrencyCode: m.GetCurrencyCode()}, nil
	}
	if m.GetUnits() != 0 && (m.GetUnits() > math.MaxInt64/q || m.GetUnits() < math.MinInt64/q) {
		return nil, errOverflow
	}
	// |nanos| < 10^9 and q < 2^32 in practice (quantities are int32), so this cannot overflow.
	return normalize(m.GetCurrencyCode(), m.GetUnits()*q, int64(m.GetNanos())*q)
}

// plus returns a+b; both must be in the same currency.
func plus(a, b *commonv1.Money) (*commonv1.Money, error) {
	if a.GetCurrencyCode() != b.GetCurrencyCode() {
		return nil, fmt.Errorf("cannot add %s to %s", b.GetCurrencyCode(), a.GetCurrencyCode())
	}
	units := a.GetUnits() + b.GetUnits()
	if (b.GetUnits() > 0 && units < a.GetUnits()) || (b.GetUnits() < 0 && units > a.GetUnits()) {
		return nil, errOverflow
	}
	return normalize(a.GetCurrencyCode(), units, int64(a.GetNanos())+int64(b.GetNanos()))
}

// normalize carries whole units out of nanos and gives nanos the sign of units.
func normalize(currency string, units, nanos int64) (*commonv1.Money, error) {
	carry := nanos / nanosPerUnit
	nanos %= nanosPerUnit
	if (carry > 0 && units > math.MaxInt64-carry) || (carry < 0 && units < math.MinInt64-carry) {
		return nil, errOverflow
	}
	units += carry
	switch {
	case units > 0 && nanos < 0:
		units--
		nanos += nanosPerUnit
	case units < 0 && nanos > 0:
		units++
		nanos -= nanosPerUnit
	}
	return &commonv1.Money{CurrencyCode: currency, Units: units, Nanos: int32(nanos)}, nil
}
