package resolvers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql/handler/transport"
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
const (
	transportWSSubprotocol = "graphql-transport-ws"
	closeInvalidMessage    = 4400
	closeUnauthorized      = 4401
	closeInitTimeout       = 4408
	closeSubscriberExists  = 4409
	closeTooManyInits      = 4429
	maxCloseReason         = 123 // bytes of a close frame's reason (RFC 6455 5.5: 125, less the code)
)

// transportWSConn is a graphql-transport-ws connection that keeps the rules above. gqlgen reads from
// one goroutine and writes from several (one per operation, and its keep-alive).
type transportWSConn struct {
	transport.WebsocketConn
	mu       sync.Mutex
	running  map[string]struct{} // ids of the operations not yet ended by an error or complete
	initSeen bool                // the client sent connection_init (read by the reading goroutine only)
}

var (
	_ transport.WebsocketReadLimiter   = (*transportWSConn)(nil)
	_ transport.WebsocketReadDeadliner = (*transportWSConn)(nil)
)

// conformWS returns c, keeping graphql-transport-ws's rules when that is the subprotocol it
// negotiated; the legacy graphql-ws protocol defines neither rule and passes unchanged.
func conformWS(c transport.WebsocketConn) transport.WebsocketConn {
	if c.Subprotocol() != transportWSSubprotocol {
		return c
	}
	return &transportWSConn{WebsocketConn: c, running: make(map[string]struct{})}
}

// envelope is what the connection reads of a message: its type and the operation it is about.
type envelope struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// NextReader returns the next message, having noted the operation a subscribe starts. A subscribe
// for a running id is not passed on: the socket closes with 4409 and gqlgen's read ends in an error.
func (c *transportWSConn) NextReader() (int, io.Reader, error) {
	typ, r, err := c.WebsocketConn.NextReader()
	if err != nil {
		return typ, r, err
	}
	msg, err := io.ReadAll(r)
	if err != nil {
		return typ, nil, err
	}
	// Decoded as gqlgen decodes it (the first JSON value), so both see the same message.
	var m envelope
	if json.NewDecoder(bytes.NewReader(msg)).Decode(&m) != nil {
		return typ, nil, c.refuse(closeInvalidMessage, "Invalid message received")
	}
	switch m.Type {
	case "connection_init":
		if c.initSeen {
			return typ, nil, c.refuse(closeTooManyInits, "Too many initialisation requests")
		}
		c.initSeen = true
	case "subscribe":
		switch {
		case !c.initSeen:
			return typ, nil, c.refuse(closeUnauthorized, "Unauthorized")
		case m.ID == "":
			return typ, nil, c.refuse(closeInvalidMessage, "Invalid message received: subscribe without an id")
		case !c.start(m.ID):
			return typ, nil, c.refuse(closeSubscriberExists, subscriberExists(m.ID))
		}
	case "complete":
		if m.ID == "" {
			return typ, nil, c.refuse(closeInvalidMessage, "Invalid message received: complete without an id")
		}
	case "ping", "pong":
	default:
		return typ, nil, c.refuse(closeInvalidMessage, "Invalid message received")
	}
	return typ, bytes.NewReader(msg), nil
}

// refuse closes the socket with code and reason, and returns the error that ends gqlgen's read.
func (c *transportWSConn) refuse(code int, reason string) error {
	_ = c.WebsocketConn.WriteClose(code, reason)
	return fmt.Errorf("graphql-transport-ws: %d %s", code, reason)
}

// WriteClose closes the socket, with 4408 when gqlgen gives up waiting for connection_init (it
// would say 1002).
func (c *transportWSConn) WriteClose(code int, reason string) error {
	if reason == "connection initialisation timeout" {
		code, reason = closeInitTimeout, "Connection initialisation timeout"
	}
	return c.WebsocketConn.WriteClose(code, reason)
}

// WriteJSON sends a message, unless it is an error or complete for an operation that already ended.
func (c *transportWSConn) WriteJSON(v any) error {
	msg, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m envelope
	if json.Unmarshal(msg, &m) == nil && (m.Type == "error" || m.Type == "complete") && !c.end(m.ID) {
		return nil
	}
	return c.WebsocketConn.WriteJSON(json.RawMessage(msg))
}

// start notes that the operation id runs, and reports false if one already did.
func (c *transportWSConn) start(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.running[id]; ok {
		return false
	}
	c.running[id] = struct{}{}
	return true
}

// end notes that the operation id ended, and reports false if it was not running.
func (c *transportWSConn) end(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.running[id]; !ok {
		return false
	}
	delete(c.running, id)
	return true
}

// SetReadLimit passes gqlgen's PayloadReadLimit on to the connection.
func (c *transportWSConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

// SetReadDeadline passes gqlgen's ping-pong deadline on to the connection.
func (c *transportWSConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
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
