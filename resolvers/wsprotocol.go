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
// An id is taken from the client's subscribe until the server's error or complete for it. A
// client's complete does not free it: gqlgen answers it with a complete once the operation has
// wound down, and an id reused before that would have its events mixed with the old operation's.
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
	running map[string]struct{} // ids of the operations not yet ended by an error or complete
	// gqlgen knows each operation by an id of its own, not the client's: it forgets an operation
	// only after sending its complete, so a client reusing the id at once would have its new
	// operation forgotten with the old one, and could no longer stop it. ours maps a client's id to
	// its current operation's, theirs the other way.
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
		running:       make(map[string]struct{}),
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
			if m.ID != "" {
				c.start(m.ID)
				operation = true
			}
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
			case !c.start(m.ID):
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
// an operation the message starts, the operation's for one that stops it ("" for an operation
// gqlgen does not run, which it ignores). m is msg decoded; msg is re-encoded only when its id
// changes.
func (c *wsConn) toGqlgen(msg []byte, m *wireMessage) ([]byte, error) {
	if m.ID == "" {
		return msg, nil
	}
	c.mu.Lock()
	var id string
	switch m.Type {
	case "subscribe", "start":
		c.seq++
		id = strconv.FormatUint(c.seq, 10)
		c.ours[m.ID], c.theirs[id] = id, m.ID
	case "complete", "stop":
		id = c.ours[m.ID]
	default:
		c.mu.Unlock()
		return msg, nil
	}
	c.mu.Unlock()
	m.ID = id
	return json.Marshal(m)
}

// fromGqlgen returns the client's id of the operation gqlgen calls id, forgetting it when final (the
// operation's last message), and whether it knew it.
func (c *wsConn) fromGqlgen(id string, final bool) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	client, ok := c.theirs[id]
	if ok && final {
		delete(c.theirs, id)
		if c.ours[client] == id {
			delete(c.ours, client)
		}
	}
	return client, ok
}

// refuseOperation answers the operation id, refused before it ran (the JSON limits, a parameter
// given twice), with an error message (which ends the operation: see deliver). Only an error
// writing it ends the read.
func (c *wsConn) refuseOperation(id string, refusal error) error {
	payload, err := json.Marshal([]*gqlerror.Error{c.present(c.ctx, refusal)})
	if err != nil {
		return err
	}
	return c.deliver(wireMessage{Type: "error", ID: id, Payload: payload})
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
	// complete gqlgen sends after it is not sent: deliver).
	final := m.Type == "complete" || c.rules && m.Type == "error"
	client, known := c.fromGqlgen(m.ID, final)
	switch {
	case known:
		m.ID = client
	case c.rules && (m.Type == "error" || m.Type == "complete"):
		return nil // the complete of an operation that ended with an error
	}
	return c.deliver(m)
}

// deliver sends m, about the operation the client calls m.ID. An error or complete ends its
// operation; under the rules, one for an operation that already ended is not sent.
func (c *wsConn) deliver(m wireMessage) error {
	last := false
	if m.Type == "error" || m.Type == "complete" {
		ended, l := c.end(m.ID)
		if !ended && c.rules {
			return nil
		}
		last = l
	}
	err := c.WebsocketConn.WriteJSON(m)
	if last {
		c.goingAway()
	}
	return err
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
	idle := len(c.running) == 0
	c.mu.Unlock()
	if idle {
		c.goingAway()
	}
}

func (c *wsConn) goingAway() { _ = c.WebsocketConn.WriteClose(closeGoingAway, goingAwayReason) }

// start notes that the operation id runs, and reports false if one already did.
func (c *wsConn) start(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.running[id]; ok {
		return false
	}
	c.running[id] = struct{}{}
	return true
}

// end notes that the operation id ended, and reports whether it was running, and whether it was the
// last one of a connection that is going away.
func (c *wsConn) end(id string) (ended, last bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.running[id]; !ok {
		return false, false
	}
	delete(c.running, id)
	return true, c.leaving && len(c.running) == 0
}

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
