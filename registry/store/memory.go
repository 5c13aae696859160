package store

import (
	"bytes"
	"context"
	"maps"
	"sync"
)

// memory is the Store of a gateway without --data-dir: it checks commits and drops exactly as
// the file store does and forgets everything when the process ends.
type memory struct {
	mu      sync.Mutex
	closed  bool
	cat     *catalog
	records map[key]Record
}

// NewMemory returns a Store that keeps everything in memory, for a gateway without --data-dir
// and for tests.
func NewMemory() Store {
	return &memory{cat: newCatalog(), records: make(map[key]Record)}
}

func (m *memory) Load(ctx context.Context) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return State{}, errClosed
	}
	if err := ctxErr(ctx, "load"); err != nil {
		return State{}, err
	}
	keys := m.cat.keys()
	st := State{Records: make([]Record, len(keys)), Active: maps.Clone(m.cat.active)}
	for i, k := range keys {
		st.Records[i] = m.records[k]
		st.Records[i].Payload = clonePayload(st.Records[i].Payload)
	}
	return st, nil
}

func (m *memory) Commit(ctx context.Context, name string, active uint64, add ...Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	if err := ctxErr(ctx, "commit"); err != nil {
		return err
	}
	ch, err := m.cat.plan(name, active, add)
	if err != nil || ch == nil {
		return err
	}
	for _, f := range ch.fresh {
		r := f.rec
		r.Payload = clonePayload(r.Payload)
		m.records[key{r.Name, r.Version}] = r
	}
	m.cat.apply(ch)
	return nil
}

func (m *memory) Drop(ctx context.Context, name string, versions ...uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	if err := ctxErr(ctx, "drop"); err != nil {
		return err
	}
	keys, err := m.cat.planDrop(name, versions)
	if err != nil {
		return err
	}
	m.cat.remove(keys)
	for _, k := range keys {
		delete(m.records, k)
	}
	return nil
}

func (m *memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// clonePayload copies p; an empty payload is nil, as the file store loads it.
func clonePayload(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	return bytes.Clone(p)
}
