package resolvers

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/vektah/gqlparser/v2/ast"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/protogate/gateway/policies/policy"
	"github.com/protogate/gateway/schema"
)

// Links resolve in waves. After the root fields' calls, their results are walked along the
// selections; every link field found registers its call: a batch key in its group, or a call
// keyed by method and request, so equal calls are made once. The wave's calls then run in
// parallel, and the results of its links, whether their calls were made now or in an earlier
// wave, are walked for the next wave. The writer later finds each link's result by computing the
// same key from the same parent.

// batchGroup collects the keys of the links that call one method and share a batch method and key,
// and holds what the calls of the batch method answered for each.
type batchGroup struct {
	path    string // the method the links call, whose policies each batch meets first
	bc      *schema.BatchCall
	entries map[string]*batchEntry // by canonical key
	pending []string               // keys of the next wave
	slab    []batchEntry           // entries are allocated from here, a chunk at a time
}

// entry returns a new entry for key, to be filled by the next wave.
func (g *batchGroup) entry(key string) *batchEntry {
	if len(g.slab) == cap(g.slab) {
		g.slab = make([]batchEntry, 0, max(8, 2*cap(g.slab)))
	}
	g.slab = g.slab[:len(g.slab)+1]
	e := &g.slab[len(g.slab)-1]
	g.entries[key] = e
	g.pending = append(g.pending, key)
	return e
}

// batchEntry is the result of one key: the result message, or the error of the batch call that
// asked for it (NOT_FOUND when its answer has no result for the key: errNoResult).
type batchEntry struct {
	data  []byte
	found bool
	err   error
	chunk int // the task that asks for the key: only its response may fill the entry
}

// pending is a link result to walk for further links once its wave is done.
type pending struct {
	link *schema.Field
	sel  ast.SelectionSet
	c    *call
	e    *batchEntry
}

// walkValue walks a method's response for links, when its value is an object.
func (op *operation) walkValue(msg []byte, v *schema.Value, sel ast.SelectionSet) {
	if v.Kind == schema.KindMessage && v.Object != nil {
		op.walk(msg, v.Object, sel)
	}
}

// walk finds the link fields selected on msg, an object of type obj, and below it through message
// fields, and registers their calls for the next wave. Malformed data is skipped here; writing the
// response reports it.
func (op *operation) walk(msg []byte, obj *schema.Object, sel ast.SelectionSet) {
	if !op.x.hasLinks[obj] {
		return
	}
	mark := len(op.arena)
	arena, v, err := indexView(op.arena, msg)
	op.arena = arena
	defer func() { op.arena = op.arena[:mark] }()
	if err != nil {
		return
	}
	fields := op.collect(sel, obj, obj.Name)
	for i := range fields {
		sf := &fields[i]
		f := sf.f
		switch {
		case f == nil:
		case f.Link != nil:
			op.addLink(v, f, sf.Selections)
		case f.Kind == schema.KindMessage && f.Object != nil && op.x.hasLinks[f.Object]:
			op.walkField(v, f.Desc, f.Object, sf.Selections)
		}
	}
}

// walkField walks the values of message field fd of msg, objects of type obj.
func (op *operation) walkField(msg msgView, fd protoreflect.FieldDescriptor, obj *schema.Object, sel ast.SelectionSet) {
	if !fd.IsList() {
		if m, ok, err := messageField(msg, fd); ok && err == nil {
			op.walk(m, obj, sel)
		}
		return
	}
	want := wireType(fd.Kind())
	it := msg.fields()
	for {
		wf, ok := it.next()
		if !ok {
			return
		}
		if wf.num == fd.Number() && wf.typ == want {
			op.walk(wf.b, obj, sel)
		}
	}
}

// addLink registers the call of link field f on parent for the next wave: a key of its batch
// group, or a call made once however often it is asked for.
func (op *operation) addLink(parent msgView, f *schema.Field, sel ast.SelectionSet) {
	l := f.Link
	p := pending{link: f, sel: sel}
	if l.Batch != nil {
		key, err := op.linkKey(parent, l)
		if err != nil {
			return
		}
		g := op.group(l)
		e := g.entries[string(key)]
		if e == nil {
			e = g.entry(string(key))
		}
		p.e = e
	} else {
		key, err := op.linkCallKey(parent, l)
		if err != nil {
			return
		}
		c := op.calls[string(key)]
		if c == nil {
			if op.calls == nil {
				op.calls = make(map[string]*call)
			}
			k := string(key)
			c = &call{path: l.Path, req: []byte(k[len(l.Path)+1:])}
			op.calls[k] = c
			op.tasks = append(op.tasks, task{c: c})
		}
		p.c = c
	}
	if f.Object != nil && op.x.hasLinks[f.Object] {
		op.next = append(op.next, p)
	}
}

// group returns the batch group of batched link l: links that call the same method and whose
// batch method, request, response and key fields are the same share one, so their keys go in the
// same calls. Links of different methods batched alike keep apart, so that one method's refusal
// fails only its own links.
func (op *operation) group(l *schema.LinkCall) *batchGroup {
	bc := l.Batch
	for _, g := range op.groups {
		if g.path == l.Path && (g.bc == bc || g.bc.Path == bc.Path && g.bc.RequestField.Number() == bc.RequestField.Number() &&
			g.bc.ResponseField.Number() == bc.ResponseField.Number() && g.bc.KeyField.Number() == bc.KeyField.Number()) {
			return g
		}
	}
	g := &batchGroup{path: l.Path, bc: bc, entries: make(map[string]*batchEntry, 8)}
	op.groups = append(op.groups, g)
	return g
}

// resolveLinks runs the waves: the calls registered so far, then those that the walk of their
// results registers, until a wave has nothing to walk. A wave whose links all ask for calls made
// earlier makes no call, but their results are still walked for the links below them. Each walk
// goes one selection deeper, so the waves end. Every batch group makes one call per wave (more
// only beyond maxBatchKeys keys), so N orders' users cost one call, not N.
func (op *operation) resolveLinks() {
	for {
		op.queueBatches()
		if len(op.tasks) == 0 && len(op.next) == 0 {
			return
		}
		tasks := op.tasks
		op.tasks = nil
		op.run(tasks)
		next := op.next
		op.next = nil
		var walked map[pendingKey]bool
		if len(next) > 1 {
			walked = make(map[pendingKey]bool, len(next))
		}
		for _, p := range next {
			if walked != nil {
				k := pendingKey{c: p.c, e: p.e, sel: unsafe.SliceData(p.sel), f: p.link}
				if walked[k] {
					continue
				}
				walked[k] = true
			}
			op.walkLink(p)
		}
	}
}

// queueBatches makes the wave's tasks of the batch keys registered since the last wave: one per
// group, or one per maxBatchKeys keys.
func (op *operation) queueBatches() {
	for _, g := range op.groups {
		for len(g.pending) > 0 {
			n := min(len(g.pending), op.x.maxBatchKeys)
			op.chunks++
			keys := g.pending[:n:n]
			for _, k := range keys {
				g.entries[k].chunk = op.chunks
			}
			op.tasks = append(op.tasks, task{g: g, keys: keys, chunk: op.chunks})
			g.pending = g.pending[n:]
		}
		g.pending = nil
	}
}

type pendingKey struct {
	c   *call
	e   *batchEntry
	sel *ast.Selection
	f   *schema.Field
}

// walkLink walks a link's result for further links.
func (op *operation) walkLink(p pending) {
	var msg []byte
	switch {
	case p.c != nil && p.c.err == nil:
		msg = p.c.resp
	case p.e != nil && p.e.err == nil && p.e.found:
		msg = p.e.data
	default:
		return
	}
	l := p.link.Link
	if l.ResultField == nil {
		op.walkValue(msg, &p.link.Value, p.sel)
		return
	}
	if p.link.Kind == schema.KindMessage && p.link.Object != nil {
		op.walkField(view(msg), l.ResultField, p.link.Object, p.sel)
	}
}

// batch makes one call of a batch method for keys and files each result under its key. The keys
// stand for calls of the links' method, so they meet its policies first, as the same field asked
// directly would: one decision weighing one call per key, so a rate limit on the method is charged
// as if it had been called that many times. A refusal fails the keys' links with it, and the batch
// method is not called; the batch call itself carries what its own admission makes of the
// metadata (the identity the upstream sees).
func (op *operation) batch(g *batchGroup, keys []string, chunk int) {
	release, err := op.admit(g.path, len(keys))
	if err == nil {
		err = op.fetch(g, keys, chunk)
		release()
	}
	if err != nil {
		for _, k := range keys {
			if e := g.entries[k]; e != nil {
				e.err = err
			}
		}
	}
}

// admit decides on n calls of method under its policies, without making them (Caller.Admit):
// release gives back what the admission holds (concurrency slots) once they are over.
func (op *operation) admit(method string, n int) (release func(), err error) {
	release, err = op.x.caller.Admit(op.ctx, method, op.md, n)
	if err != nil {
		policy.SetRefusalHeaders(op.ctx, err) // a rate limit's Retry-After and RateLimit-*
		return release, asStatus(err)
	}
	return release, nil
}

// fetch calls the batch method of g for keys and files each result under its key.
func (op *operation) fetch(g *batchGroup, keys []string, chunk int) error {
	bc := g.bc
	size := 0
	for _, k := range keys {
		size += len(k) + 12
	}
	req := make([]byte, 0, size)
	for _, k := range keys {
		req = appendCanonicalField(req, bc.RequestField.Number(), bc.RequestField.Kind(), k)
	}
	resp, err := op.invoke(bc.Path, req)
	if err != nil {
		return err
	}
	if err := fileResults(g, resp, chunk); err != nil {
		return err
	}
	for _, k := range keys {
		if e := g.entries[k]; e != nil && !e.found {
			e.err = errNoResult(bc, k)
		}
	}
	return nil
}

// errNoResult is the field error of a batched link whose key the batch method's answer lacks:
// NOT_FOUND with a google.rpc.ResourceInfo naming the linked type and the key, as the link's
// method answers for a record it does not have, so that batching a link does not change what a
// client sees for a missing record beyond the message.
func errNoResult(bc *schema.BatchCall, key string) error {
	text := keyText(bc.KeyField, key)
	typ := bc.ResponseField.Message().FullName()
	st := status.Newf(codes.NotFound, "%s returned no %s with %s %q",
		strings.TrimPrefix(bc.Path, "/"), bc.ResponseField.Name(), bc.KeyField.Name(), text)
	info := &errdetails.ResourceInfo{ResourceType: string(typ), ResourceName: text,
		Description: fmt.Sprintf("no %s has %s %q", typ.Name(), bc.KeyField.Name(), text)}
	if withInfo, err := st.WithDetails(info); err == nil {
		st = withInfo
	}
	return st.Err()
}

// keyText is a batch key, canonical as linkKey and fileResults make it, as a client reads the key
// field: a string as it is, a number in decimal, bytes in base64, an enum value by name.
func keyText(fd protoreflect.FieldDescriptor, key string) string {
	f := wireField{num: fd.Number(), typ: wireType(fd.Kind())}
	switch f.typ {
	case protowire.VarintType:
		f.u, _ = protowire.ConsumeVarint([]byte(key))
	case protowire.Fixed32Type:
		u, _ := protowire.ConsumeFixed32([]byte(key))
		f.u = uint64(u)
	case protowire.Fixed64Type:
		f.u, _ = protowire.ConsumeFixed64([]byte(key))
	default:
		if fd.Kind() == protoreflect.StringKind {
			return key
		}
		f.b = []byte(key)
	}
	b, err := appendProtoScalar(nil, fd, f)
	if err != nil {
		return key
	}
	return strings.Trim(string(b), `"`)
}

// fileResults reads a batch response and files each result under its key, among the keys of chunk.
func fileResults(g *batchGroup, resp []byte, chunk int) error {
	bc := g.bc
	var key []byte
	it := wireIter{b: resp}
	for {
		wf, ok := it.next()
		if !ok {
			break
		}
		if wf.num != bc.ResponseField.Number() || wf.typ != wireType(bc.ResponseField.Kind()) {
			continue
		}
		kf, found, err := scalarField(view(wf.b), bc.KeyField)
		if err != nil {
			return malformed(bc.Path)
		}
		if !found {
			kf = scalarDefault(bc.KeyField)
		}
		key = canonical(key[:0], bc.KeyField.Kind(), kf)
		if e := g.entries[string(key)]; e != nil && e.chunk == chunk && !e.found {
			e.data, e.found = wf.b, true
		}
	}
	if it.err != nil {
		return malformed(bc.Path)
	}
	return nil
}

// malformed is the error of a response that is not a valid message.
func malformed(path string) error {
	return status.Error(codes.Internal, "the upstream response of "+path+" is not a valid protobuf message")
}

// linkKey returns the canonical key of batched link l on parent, in op's scratch space.
func (op *operation) linkKey(parent msgView, l *schema.LinkCall) ([]byte, error) {
	v, _, err := sourceValue(op.key[:0], parent, l.Args[0])
	op.key = v
	return v, err
}

// linkCallKey returns the method path, a 0 byte and the request of link l on parent, in op's
// scratch space: the identity of the call, and the request itself after the 0.
func (op *operation) linkCallKey(parent msgView, l *schema.LinkCall) ([]byte, error) {
	b := append(op.key[:0], l.Path...)
	b = append(b, 0)
	for _, a := range l.Args {
		v, present, err := sourceValue(op.val[:0], parent, a)
		op.val = v
		if err != nil {
			op.key = b
			return nil, err
		}
		if present {
			b = appendCanonicalField(b, a.Request.Number(), a.Request.Kind(), v)
		}
	}
	op.key = b
	return b, nil
}

// sourceValue appends the canonical value of a link argument's source path in parent to b. Unset
// messages on the way and an unset scalar give the zero (or default) value; an unset message at the
// end gives none (present is false).
func sourceValue(b []byte, parent msgView, a schema.LinkArg) (out []byte, present bool, err error) {
	msg := parent
	for _, fd := range a.Source[:len(a.Source)-1] {
		m, _, err := messageField(msg, fd)
		if err != nil {
			return b, false, err
		}
		msg = view(m)
	}
	leaf := a.Source[len(a.Source)-1]
	if leaf.Message() != nil {
		m, ok, err := messageField(msg, leaf)
		return append(b, m...), ok, err
	}
	f, ok, err := scalarField(msg, leaf)
	if err != nil {
		return b, false, err
	}
	if !ok {
		f = scalarDefault(leaf)
	}
	return canonical(b, leaf.Kind(), f), true, nil
}
