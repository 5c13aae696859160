package resolvers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/internal/wsguard"
	"github.com/protogate/gateway/policies/policy"
)

// graphql-transport-ws (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md) rules that
// gqlgen's transport does not keep, kept on the connection it reads and writes through:
//
//   - An operation ends with one `error` or one `complete`, never both: gqlgen follows some errors
//     with a complete.
//   - A `subscribe` reusing the id of a running operation closes the socket with 4409 "Subscriber
//     for <id> already exists": gqlgen would run a second operation under the same id.
//   - The protocol's other close codes, where gqlgen closes with 1002 or 1000, or not at all: 4400
//     "Invalid message received" for a message that is not JSON, has no or an unknown type, or a
//     subscribe or complete without an id; 4401 "Unauthorized" for a subscribe before
//     connection_init; 4429 "Too many initialisation requests" for a second connection_init; 4408
//     "Connection initialisation timeout" when none comes in time.
//
// An id is taken from the client's subscribe until the server's error or complete for it, or the
// client's complete, which frees it at once: as the protocol has it, nothing more is sent about the
// operation, though gqlgen, winding it down, may go on to send a `next` carrying the error "context
// canceled" and a complete for it. Those are dropped, as is anything else gqlgen sends about an
// operation that ended, and a new operation reusing the id never gets them (see wsConn.ours).
//
// The legacy graphql-ws protocol's stop is answered as its reference server answers it: with the
// operation's complete, the last message about it. The gateway sends it as it reads the stop, so
// nothing (gqlgen's "context canceled" among it) follows; the id is free at once too.
//
// With either protocol, every message is held to the request's JSON limits (policy.MessageLimits,
// put in the handshake's context by the limits policy: policies.limits' depth, array and string
// lengths, UTF-8) before anything decodes it, as a POST's body is. A subscribe (graphql-ws: start)
// over them never reaches gqlgen: it is answered with an `error` message for its id, the refusal
// presented as any error is (extensions.code INVALID_ARGUMENT, the google.rpc.BadRequest in
// extensions.details), and the socket serves on. Any other message over them closes the socket
// with 4400, the reason naming the limit: it is no operation an error could answer.
//
// With either protocol, an operation (subscribe; graphql-ws: start) whose payload gives query,
// operationName, variables or extensions twice, in any case or escaped, is answered with an `error`
// message for its id, INVALID_ARGUMENT naming the key, as a POST's body giving one twice is
// refused (body.go: the same scan, scanBody): gqlgen would run the last copy, where an inspector
// reading the first sees another operation. It never reaches gqlgen, and the socket serves on.
// A message that gives id, type or payload twice (matched the same way) closes the socket with 4400,
// the reason naming the key: which operation, or which kind of message, it is would be a guess.
//
// With either protocol, a socket runs every operation under the handler and the request policies
// it was upgraded under. So once the gateway's configuration changed (Options.Current reports
// false), an operation its client starts is not run: the socket closes with 1012 Service Restart,
// and graphql-ws clients reconnect and subscribe again, under the current configuration. Its
// operations already running go on until then, as an SSE subscription does across a reload; its
// other messages (ping, pong, complete, a first connection_init) are served as ever.
const (
	transportWSSubprotocol = "graphql-transport-ws"
	closeInvalidMessage    = 4400
	closeUnauthorized      = 4401
	closeInitTimeout       = 4408
	closeSubscriberExists  = 4409
	closeTooManyInits      = 4429
	closeMessageTooBig     = 1009 // Message Too Big (RFC 6455 7.4.1)
	closeServiceRestart    = 1012 // Service Restart, in IANA's registry of WebSocket close codes
	configChangedReason    = "the gateway's configuration changed: reconnect"
	maxCloseReason         = 123 // bytes of a close frame's reason (RFC 6455 5.5: 125, less the code)
)

// wsConn is a GraphQL WebSocket connection as the gateway serves it. With graphql-transport-ws
// (rules) it keeps the rules above. With either protocol it holds each message to the JSON limits,
// and knows the operations that run, so that a stopping gateway can close the socket with 1001
// Going Away once they have had their last message (goAway), and runs no new operation once the
// configuration it was upgraded under is no longer current (1012). gqlgen reads from one goroutine
// and writes from several (one per operation, and its keep-alive).
type wsConn struct {
	transport.WebsocketConn
	rules   bool                                         // graphql-transport-ws; the legacy graphql-ws defines neither rule
	limits  policy.MessageLimits                         // the request's JSON limits; nil when it has none
	current func() bool                                  // Options.Current: false once the configuration changed; nil: never
	ctx     context.Context                              // the handshake's: where a refusal of the limits is recorded
	present func(context.Context, error) *gqlerror.Error // renders a refused operation's error
	mu      sync.Mutex
	// gqlgen knows each operation by an id of its own, not the client's: it forgets an operation
	// only after its last message, so an id the client reuses at once would have the new operation
	// forgotten with the old one (it could no longer be stopped), and the old one's late messages
	// taken for the new one's. ours maps the client's id of each running operation (from its
	// subscribe until its error or complete, or the client's complete) to gqlgen's; theirs maps
	// gqlgen's ids of the operations whose messages the client is sent to the client's. An operation
	// that is in neither is over for the client: what gqlgen still sends about it is dropped.
	ours, theirs map[string]string
	seq          uint64         // numbers the operations' ids
	leaving      bool           // goAway was called: the socket closes once nothing runs
	initSeen     bool           // the client sent connection_init (read by the reading goroutine only)
	unwatch      func() bool    // stops watching for the gateway's stop; nil when not watching
	frames       *wsguard.Guard // what the connection is read through; nil: nothing
}

var (
	_ transport.WebsocketReadLimiter   = (*wsConn)(nil)
	_ transport.WebsocketReadDeadliner = (*wsConn)(nil)
)

// Going Away (RFC 6455 7.4.1): what a socket closes with when the gateway stops.
const (
	closeGoingAway  = 1001
	goingAwayReason = "the gateway is shutting down"
)

// conformWS returns c, accepted for the handshake whose context is ctx, as the gateway serves it:
// keeping graphql-transport-ws's rules when that is the subprotocol it negotiated, holding every
// message to the JSON limits of ctx's request (refused operations' errors rendered by
// wi.present), closing with 1001 once wi.stopping is done (nil: never), with 1012 when an
// operation starts after wi.current turned false (nil: never), and with 1009 when frames, which c
// is read through (nil: none), stops the read at a message over the read limit.
func conformWS(ctx context.Context, c transport.WebsocketConn, wi wsImplementation, frames *wsguard.Guard) transport.WebsocketConn {
	w := &wsConn{
		frames:        frames,
		WebsocketConn: c,
		rules:         c.Subprotocol() == transportWSSubprotocol,
		limits:        policy.MessageLimitsFrom(ctx),
		ctx:           ctx,
		present:       wi.present,
		current:       wi.current,
		ours:          make(map[string]string),
		theirs:        make(map[string]string),
	}
	if wi.stopping != nil {
		w.unwatch = context.AfterFunc(wi.stopping, w.goAway)
	}
	return w
}

// wireMessage is a message of either protocol, whole.
type wireMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// envelope are wireMessage's keys: a message giving one twice is refused (scanObject).
var envelope = [...]string{"id", "type", "payload"}

// NextReader returns the next message, having noted the operation it starts. A message that is
// not passed on does not end the read when an error message answered it (an operation over the
// JSON limits): the next one is read. Otherwise the socket closes with the code of the rule or
// limit the message broke, and gqlgen's read ends in an error; a message announced over the read
// limit closes it with 1009 Message Too Big, as coder/websocket closes it for one it has read.
func (c *wsConn) NextReader() (int, io.Reader, error) {
	for {
		typ, r, err := c.WebsocketConn.NextReader()
		if err != nil {
			if tooBig := c.frames.Refused(); tooBig != nil {
				return typ, nil, c.refuse(closeMessageTooBig, cutReason(tooBig.Error()))
			}
			return typ, r, err
		}
		msg, err := io.ReadAll(r)
		if err != nil {
			return typ, nil, err
		}
		var m wireMessage // the message as decoded once, by admit
		pass, err := c.admit(msg, &m)
		if err != nil {
			return typ, nil, err
		}
		if pass {
			if msg, err = c.toGqlgen(msg, &m); err != nil {
				return typ, nil, err
			}
			return typ, bytes.NewReader(msg), nil
		}
	}
}

// admit decides on one message: pass it on to gqlgen, drop it (an operation over the JSON limits,
// or whose payload gives a parameter twice, answered with an error message), or close the socket
// (the error that ends the read). It decodes msg into m (left zero when msg is not JSON).
func (c *wsConn) admit(msg []byte, m *wireMessage) (pass bool, err error) {
	var overLimits error
	if c.limits != nil {
		overLimits = c.limits.CheckMessage(c.ctx, msg)
	}
	// Decoded as gqlgen decodes it (the first JSON value), so both see the same message.
	if json.NewDecoder(bytes.NewReader(msg)).Decode(m) != nil {
		*m = wireMessage{}
		switch {
		case overLimits != nil:
			return false, c.refuseOverLimits(overLimits)
		case !c.rules:
			return true, nil // gqlgen answers it
		}
		return false, c.refuse(closeInvalidMessage, "Invalid message received")
	}
	if _, repeated := scanObject(msg, envelope[:]); repeated >= 0 {
		return false, c.refuse(closeInvalidMessage, cutReason("Invalid message received: "+keyGivenTwice(msg, repeated, envelope[:])))
	}
	operation := false
	if !c.rules {
		if m.Type == "start" { // graphql-ws's subscribe
			if c.stale() {
				return false, c.refuse(closeServiceRestart, configChangedReason)
			}
			operation = m.ID != ""
		}
	} else {
		switch m.Type {
		case "connection_init":
			if c.initSeen {
				return false, c.refuse(closeTooManyInits, "Too many initialisation requests")
			}
			c.initSeen = true
		case "subscribe":
			switch {
			case !c.initSeen:
				return false, c.refuse(closeUnauthorized, "Unauthorized")
			case m.ID == "":
				return false, c.refuse(closeInvalidMessage, "Invalid message received: subscribe without an id")
			case c.stale():
				return false, c.refuse(closeServiceRestart, configChangedReason)
			case c.runs(m.ID):
				return false, c.refuse(closeSubscriberExists, subscriberExists(m.ID))
			}
			operation = true
		case "complete":
			if m.ID == "" {
				return false, c.refuse(closeInvalidMessage, "Invalid message received: complete without an id")
			}
		case "ping", "pong":
		default:
			return false, c.refuse(closeInvalidMessage, "Invalid message received")
		}
	}
	switch {
	case overLimits != nil && operation:
		return false, c.refuseOperation(m.ID, overLimits)
	case overLimits != nil:
		return false, c.refuseOverLimits(overLimits)
	case operation:
		if _, repeated := scanBody(m.Payload); repeated >= 0 {
			return false, c.refuseOperation(m.ID, repeatedParam("the payload", m.Payload, repeated))
		}
	}
	return true, nil
}

// stale reports whether the configuration the socket was upgraded under is no longer current: a new
// operation must not run on it.
func (c *wsConn) stale() bool { return c.current != nil && !c.current() }

// toGqlgen gives a message passed on to gqlgen the id gqlgen knows its operation by: a new one for
// an operation the message starts, the operation's for one that stops it ("" for an operation that
// does not run, which gqlgen ignores). The client's complete (graphql-ws: stop) ends its operation
// for the client there and then (stop). m is msg decoded; msg is re-encoded only when its id
// changes.
func (c *wsConn) toGqlgen(msg []byte, m *wireMessage) ([]byte, error) {
	if m.ID == "" {
		return msg, nil
	}
	var id string
	switch m.Type {
	case "subscribe", "start":
		id = c.begin(m.ID)
	case "complete", "stop":
		var err error
		if id, err = c.stop(m.ID); err != nil {
			return nil, err
		}
	default:
		return msg, nil
	}
	m.ID = id
	return json.Marshal(m)
}

// begin notes that the client's operation client starts, and returns the id gqlgen is to know it by.
// Under graphql-ws, whose client may reuse a running operation's id, the earlier operation's
// messages still go to the client under it.
func (c *wsConn) begin(client string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	id := strconv.FormatUint(c.seq, 10)
	c.ours[client], c.theirs[id] = id, client
	return id
}

// stop ends the operation the client calls client, at the client's request (complete; graphql-ws:
// stop): its id is free, and gqlgen's messages about it are dropped from then on (send). Under
// graphql-ws the operation's complete answers the stop. It returns gqlgen's id of the operation, ""
// when none runs under client.
func (c *wsConn) stop(client string) (id string, err error) {
	c.mu.Lock()
	id, ok := c.ours[client]
	if ok {
		delete(c.ours, client)
		delete(c.theirs, id)
		if !c.rules {
			// Under the lock, as send writes: after every message sent about the operation.
			err = c.WebsocketConn.WriteJSON(wireMessage{ID: client, Type: "complete"})
		}
	}
	last := ok && c.leaving && len(c.ours) == 0
	c.mu.Unlock()
	if last {
		c.goingAway()
	}
	return id, err
}

// runs reports whether an operation runs under the client's id.
func (c *wsConn) runs(client string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.ours[client]
	return ok
}

// send writes m, gqlgen's message about the operation gqlgen calls m.ID, under the client's id of
// it, unless the operation is over for the client: it ended, or the client stopped it. final says
// m is the operation's last message, which ends it. The decision and the write are made under the
// lock that stop takes, so nothing about an operation is written once stop returned.
func (c *wsConn) send(m wireMessage, final bool) error {
	c.mu.Lock()
	client, ok := c.theirs[m.ID]
	if !ok {
		c.mu.Unlock()
		return nil
	}
	last := false
	if final {
		delete(c.theirs, m.ID)
		if c.ours[client] == m.ID { // not an earlier operation under a reused graphql-ws id
			delete(c.ours, client)
			last = c.leaving && len(c.ours) == 0
		}
	}
	m.ID = client
	err := c.WebsocketConn.WriteJSON(m)
	c.mu.Unlock()
	if last {
		c.goingAway()
	}
	return err
}

// refuseOperation answers the operation id, refused before it ran (the JSON limits, a parameter
// given twice), with an error message, which ends it. Only an error writing it ends the read.
func (c *wsConn) refuseOperation(id string, refusal error) error {
	payload, err := json.Marshal([]*gqlerror.Error{c.present(c.ctx, refusal)})
	if err != nil {
		return err
	}
	return c.WebsocketConn.WriteJSON(wireMessage{Type: "error", ID: id, Payload: payload})
}

// refuseOverLimits closes the socket for a message over the JSON limits that is no operation.
func (c *wsConn) refuseOverLimits(refusal error) error {
	reason := "Invalid message received: " + status.Convert(refusal).Message()
	return c.refuse(closeInvalidMessage, cutReason(reason))
}

// refuse closes the socket with code and reason, and returns the error that ends gqlgen's read.
func (c *wsConn) refuse(code int, reason string) error {
	_ = c.WebsocketConn.WriteClose(code, reason)
	return fmt.Errorf("graphql-transport-ws: %d %s", code, reason)
}

// WriteClose closes the socket, with 4408 when gqlgen gives up waiting for connection_init (it
// would say 1002).
func (c *wsConn) WriteClose(code int, reason string) error {
	if c.rules && reason == "connection initialisation timeout" {
		code, reason = closeInitTimeout, "Connection initialisation timeout"
	}
	return c.WebsocketConn.WriteClose(code, reason)
}

// WriteJSON sends gqlgen's message, about the operation by the client's id (see toGqlgen).
func (c *wsConn) WriteJSON(v any) error {
	msg, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m wireMessage
	if json.Unmarshal(msg, &m) != nil || m.ID == "" {
		return c.WebsocketConn.WriteJSON(json.RawMessage(msg))
	}
	// An operation's last message is its complete; under the rules an error is its last too (a
	// complete gqlgen sends after it is dropped).
	return c.send(m, m.Type == "complete" || c.rules && m.Type == "error")
}

// Close ends the connection, and the watch for the gateway's stop.
func (c *wsConn) Close() error {
	if c.unwatch != nil {
		c.unwatch()
	}
	return c.WebsocketConn.Close()
}

// goAway closes the socket with 1001 once no operation runs: at once if none does, else after the
// last one's final message. The gateway ends its streams (and so the subscriptions) as it calls this.
func (c *wsConn) goAway() {
	c.mu.Lock()
	c.leaving = true
	idle := len(c.ours) == 0
	c.mu.Unlock()
	if idle {
		c.goingAway()
	}
}

func (c *wsConn) goingAway() { _ = c.WebsocketConn.WriteClose(closeGoingAway, goingAwayReason) }

// SetReadLimit passes gqlgen's PayloadReadLimit on to the connection, and to the guard of its
// frames' headers.
func (c *wsConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
	c.frames.SetLimit(limit)
}

// SetReadDeadline passes gqlgen's ping-pong deadline on to the connection.
func (c *wsConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

// cutReason is reason cut to fit a close frame, on a character boundary.
func cutReason(reason string) string {
	if len(reason) <= maxCloseReason {
		return reason
	}
	n := maxCloseReason
	for n > 0 && !utf8.RuneStart(reason[n]) {
		n--
	}
	return reason[:n]
}

// subscriberExists is the 4409 close reason for id, the id shortened (on a character boundary) when
// the reason would not fit in a close frame.
func subscriberExists(id string) string {
	const prefix, suffix = "Subscriber for ", " already exists"
	if n := maxCloseReason - len(prefix) - len(suffix); len(id) > n {
		for n > 0 && !utf8.RuneStart(id[n]) {
			n--
		}
		id = id[:n]
	}
	return prefix + id + suffix
}
