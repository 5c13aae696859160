package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/policies/policy"
)

// The names of the rate-limit header fields, in the forms the fronts write them.
// draft-ietf-httpapi-ratelimit-headers-10 has RateLimit and RateLimit-Policy; its draft 06 had
// RateLimit-Limit, -Remaining, -Reset and a RateLimit-Policy of another syntax.
var (
	nameRateLimit = policy.NewHeaderName("RateLimit")
	namePolicy    = policy.NewHeaderName("RateLimit-Policy")
	nameLimit     = policy.NewHeaderName("RateLimit-Limit")
	nameRemaining = policy.NewHeaderName("RateLimit-Remaining")
	nameReset     = policy.NewHeaderName("RateLimit-Reset")
)

// smallCount bounds the remaining counts and reset times whose draft-10 RateLimit values a Step
// renders ahead: below it strconv needs no allocation either, so a small bucket's headers cost
// none in either style.
const smallCount = 100

// fields are a rule's rate-limit header fields in the style the rate_limit section's
// header_fields names, rendered once per Step but for the two numbers that change with each
// decision: the whole tokens left, and the seconds until the bucket is full again.
//
// Draft 10 (the default): RateLimit-Policy is `"<rule>";q=<rate>;w=<per, in seconds>`, the quota
// per window; RateLimit is `"<rule>";r=<left>;t=<seconds until full>`. The draft's quota policy
// has no burst: q and w state the sustained rate, and r what is left of the bucket, which can be
// more than q when the burst is larger than the rate. No parameter of the gateway's own carries
// the burst: the draft's clients would ignore it, and r already tells them what they may send.
//
// Draft 06: RateLimit-Limit is the burst, RateLimit-Remaining what is left, RateLimit-Reset the
// seconds until full, and RateLimit-Policy `<rate>;w=<seconds>`, with `;burst=<burst>` when the
// burst differs from the rate.
type fields struct {
	draft06 bool
	policy  string // RateLimit-Policy, in the style's syntax
	limit   string // draft 06: RateLimit-Limit
	prefix  string // draft 10: RateLimit up to the remaining count, `"<rule>";r=`
	// small holds draft 10's RateLimit values by remaining count, below smallCount: those a
	// decision leaving that many tokens can have (see renderSmall).
	small []smallRow
}

// smallRow is the RateLimit values of one remaining count.
type smallRow struct {
	t0   int64    // the reset time, in seconds, of vals[0]
	vals []string // vals[i] has reset t0+i
}

// newFields renders the fixed parts of a rule's header fields; style is the rate_limit section's
// header_fields ("" is the default, draft 10).
func newFields(style, rule string, rate int, per time.Duration, lim *limits) (fields, error) {
	q, secs := quota(rate, per)
	w := strconv.FormatInt(secs, 10)
	switch style {
	case "", config.DefaultRateLimitHeaderFields:
		name := sfString(rule)
		f := fields{
			policy: name + ";q=" + q + ";w=" + w,
			prefix: name + ";r=",
		}
		f.renderSmall(lim)
		return f, nil
	case "draft-06":
		pol := q + ";w=" + w
		if lim.burst != int64(rate) {
			pol += ";burst=" + strconv.FormatInt(lim.burst, 10)
		}
		return fields{draft06: true, policy: pol, limit: strconv.FormatInt(lim.burst, 10)}, nil
	}
	return fields{}, fmt.Errorf("unknown header fields %q: want one of %s", style, strings.Join(config.RateLimitHeaderFields, ", "))
}

// renderSmall renders ahead the RateLimit values a decision leaving fewer than smallCount tokens
// can carry, with reset times below smallCount. A decision leaving r whole tokens has the bucket
// full again in (tolerance-(r+1)×interval, tolerance-r×interval]: one to a few whole seconds per
// count, each shared with the next count, so at most about 2×smallCount values.
func (f *fields) renderSmall(l *limits) {
	f.small = make([]smallRow, min(l.burst+1, smallCount))
	for r := range int64(len(f.small)) {
		lo := wholeSeconds(time.Duration(l.tolerance - (r+1)*l.interval))
		hi := min(wholeSeconds(time.Duration(l.tolerance-r*l.interval)), smallCount-1)
		if lo > hi {
			continue
		}
		row := smallRow{t0: lo, vals: make([]string, hi-lo+1)}
		for i := range row.vals {
			row.vals[i] = f.render(r, lo+int64(i))
		}
		f.small[r] = row
	}
}

// rateLimit is draft 10's RateLimit value of a decision that left left tokens, the bucket full
// again in full: one rendered ahead, or rendered now in one allocation.
func (f *fields) rateLimit(left int64, full time.Duration) string {
	t := wholeSeconds(full)
	if left < int64(len(f.small)) {
		row := &f.small[left]
		if i := t - row.t0; i >= 0 && i < int64(len(row.vals)) {
			return row.vals[i]
		}
	}
	return f.render(left, t)
}

// render renders draft 10's RateLimit value of r tokens left and t seconds to full.
func (f *fields) render(r, t int64) string {
	var buf [64]byte
	b := append(buf[:0], f.prefix...)
	b = strconv.AppendInt(b, r, 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, t, 10)
	return string(b)
}

// tell hands the front the fields of an admitted call, ranked by what is left (see
// policy.ResponseHeaders). Only the numbers that change are rendered per call.
func (f *fields) tell(c *policy.Call, left int64, full time.Duration) {
	if f.draft06 {
		c.SetResponseHeaders(left,
			policy.Header{Name: nameLimit, Value: f.limit},
			policy.Header{Name: nameRemaining, Value: strconv.FormatInt(left, 10)},
			policy.Header{Name: nameReset, Value: seconds(full)},
			policy.Header{Name: namePolicy, Value: f.policy},
		)
		return
	}
	c.SetResponseHeaders(left,
		policy.Header{Name: nameRateLimit, Value: f.rateLimit(left, full)},
		policy.Header{Name: namePolicy, Value: f.policy},
	)
}

// onRefusal adds the fields to the refusal of a call: left tokens left, the bucket full again in
// full.
func (f *fields) onRefusal(den *policy.Denial, left int64, full time.Duration) *policy.Denial {
	if f.draft06 {
		return den.
			WithHeader(nameLimit.HTTP(), f.limit).
			WithHeader(nameRemaining.HTTP(), strconv.FormatInt(left, 10)).
			WithHeader(nameReset.HTTP(), seconds(full)).
			WithHeader(namePolicy.HTTP(), f.policy)
	}
	return den.
		WithHeader(nameRateLimit.HTTP(), f.rateLimit(left, full)).
		WithHeader(namePolicy.HTTP(), f.policy)
}

// onPolicyRefusal adds the fields that do not depend on the bucket to a refusal that took
// nothing from it (a cost over the burst): the policy, and draft 06's limit.
func (f *fields) onPolicyRefusal(den *policy.Denial) *policy.Denial {
	if f.draft06 {
		den = den.WithHeader(nameLimit.HTTP(), f.limit)
	}
	return den.WithHeader(namePolicy.HTTP(), f.policy)
}

// sfString renders s as a Structured Field String (RFC 9651, section 3.3.3): quoted, with " and \
// escaped. A String holds printable ASCII only: any other byte (a control character, UTF-8 beyond
// ASCII) is percent-encoded, %xx in lower-case hex as a Display String writes it, and so is %
// itself, so that the name stays one valid String and distinct names stay distinct. Rule names
// from a configuration file never need it (they are [a-z0-9][a-z0-9_.-]*, or "rules[i]").
func sfString(s string) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := range len(s) {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c > 0x7e || c == '%':
			b = append(b, '%', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}

// seconds renders d as whole seconds, rounded up, at least 1.
func seconds(d time.Duration) string { return strconv.FormatInt(wholeSeconds(d), 10) }

// quota states a limit of rate calls per per as the policy fields do, in a window of whole
// seconds: per rounded up, and the calls the rate allows in it, rounded down. A per of whole
// seconds keeps its rate; 7 per 100ms is 70 per second, 20 per 1.5s is 26 per 2 seconds.
func quota(rate int, per time.Duration) (q string, window int64) {
	window = wholeSeconds(per)
	if per%time.Second == 0 {
		return strconv.Itoa(rate), window
	}
	return strconv.FormatInt(int64(float64(rate)*float64(time.Duration(window)*time.Second)/float64(per)), 10), window
}

// wholeSeconds is d in whole seconds, rounded up, at least 1.
func wholeSeconds(d time.Duration) int64 {
	return max(1, int64((d+time.Second-1)/time.Second))
}
