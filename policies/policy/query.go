package policy

import (
	"net/http"
	"net/url"
)

// Query returns the parameters of r's query string as url.ParseQuery reads them, and its error,
// parsing the string once per request however many read it: the firewall, a front's checks, its
// transport. A query string that parses is kept in r.Form, as r.ParseForm keeps it for a request
// without a form body, and later callers (on r, or on a request derived from r after the call)
// read it there; the values are shared, so callers do not change them. One that does not parse
// is not kept: each caller gets the parameters that parse, and the first error, as
// url.ParseQuery returns them.
//
// r.Form as r.ParseForm fills it (r.PostForm is set then) is not read: it may hold a form body's
// values too, or lack those after a parse error. A request's handlers call Query from one
// goroutine at a time, as they use r.
func Query(r *http.Request) (url.Values, error) {
	if r.Form != nil && r.PostForm == nil {
		return r.Form, nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err == nil {
		r.Form = q
	}
	return q, err
}
