package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // the codec clientCodec falls back to
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// Stream is a streaming load: Streams concurrent calls of a TestService streaming method, each moving
// PerCall messages of Size bytes and then starting over, for Duration.
type Stream struct {
	Streams  int
	Duration time.Duration
	Size     int // payload bytes per message
	PerCall  int // messages per call
}

// StreamResult is what a streaming load measured.
type StreamResult struct {
	Bytes    int64 // message bytes delivered (download: received by the client; upload: acknowledged by the server)
	Calls    int   // calls completed
	Errors   int
	FirstErr error
	Elapsed  time.Duration
}

// MiBps returns the throughput in MiB per second.
func (r StreamResult) MiBps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / (1 << 20) / r.Elapsed.Seconds()
}

// clientCodec keeps the load generator cheap, so that on a small machine the CPU goes to what is
// measured: requests prepared once are sent as their bytes, and responses counted are never decoded.
// Everything else goes through the proto codec. Forced per call, it is never registered.
type clientCodec struct{}

// preEncoded is a message marshalled once and sent many times.
type preEncoded []byte

// counted receives a message by noting its size only.
type counted struct{ n int }

var protoCodec = encoding.GetCodecV2("proto")

func (clientCodec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.(preEncoded); ok {
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil // SliceBuffer's Free is a no-op: b stays ours
	}
	return protoCodec.Marshal(v)
}

func (clientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if c, ok := v.(*counted); ok {
		c.n = data.Len()
		return nil
	}
	return protoCodec.Unmarshal(data, v)
}

func (clientCodec) Name() string { return "proto" }

var (
	downloadDesc = grpc.StreamDesc{ServerStreams: true}
	uploadDesc   = grpc.StreamDesc{ClientStreams: true}
	codecOpt     = grpc.ForceCodecV2(clientCodec{})
)

// Download runs StreamingOutputCall streams (server to client) and counts the message bytes received
// before Duration is up; calls still open then are cancelled.
func (s Stream) Download(ctx context.Context, conns []grpc.ClientConnInterface) StreamResult {
	params := make([]*testgrpc.ResponseParameters, s.PerCall)
	for i := range params {
		params[i] = &testgrpc.ResponseParameters{Size: int32(s.Size)}
	}
	req, err := proto.Marshal(&testgrpc.StreamingOutputCallRequest{ResponseParameters: params})
	if err != nil {
		return StreamResult{Errors: 1, FirstErr: err}
	}
	return s.run(ctx, conns, true, func(ctx context.Context, conn grpc.ClientConnInterface, tally *streamTally) error {
		cs, err := conn.NewStream(ctx, &downloadDesc, testgrpc.TestService_StreamingOutputCall_FullMethodName, codecOpt)
		if err != nil {
			return err
		}
		if err := cs.SendMsg(preEncoded(req)); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if err := cs.CloseSend(); err != nil {
			return err
		}
		var m counted
		for {
			if err := cs.RecvMsg(&m); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			tally.add(int64(m.n))
		}
	})
}

// Upload runs StreamingInputCall streams (client to server): each call sends PerCall messages, or fewer
// once Duration is up, and counts the bytes the server acknowledges. The window ends with the last
// acknowledgement.
func (s Stream) Upload(ctx context.Context, conns []grpc.ClientConnInterface) StreamResult {
	msg, err := proto.Marshal(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: make([]byte, s.Size)}})
	if err != nil {
		return StreamResult{Errors: 1, FirstErr: err}
	}
	return s.run(ctx, conns, false, func(ctx context.Context, conn grpc.ClientConnInterface, tally *streamTally) error {
		cs, err := conn.NewStream(ctx, &uploadDesc, testgrpc.TestService_StreamingInputCall_FullMethodName, codecOpt)
		if err != nil {
			return err
		}
		for range s.PerCall {
			if !tally.open() {
				break
			}
			if err := cs.SendMsg(preEncoded(msg)); err != nil {
				if errors.Is(err, io.EOF) {
					break // the server ended the call: RecvMsg has its status
				}
				return err
			}
		}
		if err := cs.CloseSend(); err != nil {
			return err
		}
		var resp testgrpc.StreamingInputCallResponse
		if err := cs.RecvMsg(&resp); err != nil {
			return err
		}
		tally.addAcked(int64(resp.GetAggregatedPayloadSize()))
		return nil
	})
}

// streamTally is the record of one stream worker, written by its goroutine only.
type streamTally struct {
	end      time.Time
	bytes    int64
	calls    int
	errors   int
	firstErr error
	lastAck  time.Time
}

func (t *streamTally) open() bool { return time.Now().Before(t.end) }

// add counts bytes received, if they arrived within the window.
func (t *streamTally) add(n int64) {
	if t.open() {
		t.bytes += n
	}
}

// addAcked counts bytes whose acknowledgement may come after the window: the window stretches to it.
func (t *streamTally) addAcked(n int64) {
	t.bytes += n
	t.lastAck = time.Now()
}

type streamCall func(ctx context.Context, conn grpc.ClientConnInterface, tally *streamTally) error

// run drives the streams. With cutOff, calls still open at the end of the window are cancelled
// (downloads); without it they get a grace period to finish and be acknowledged (uploads).
func (s Stream) run(ctx context.Context, conns []grpc.ClientConnInterface, cutOff bool, call streamCall) StreamResult {
	if len(conns) == 0 {
		return StreamResult{Errors: 1, FirstErr: errors.New("bench: no connection to stream over")}
	}
	n := max(s.Streams, 1)
	tallies := make([]streamTally, n)
	start := time.Now()
	end := start.Add(s.Duration)
	// Cutting off cancels the calls rather than giving them a deadline: a deadline would travel with
	// them (grpc-timeout) and might fire first in a proxy, which would answer DeadlineExceeded while
	// the window is still open here.
	grace := 10 * time.Second
	if cutOff {
		grace = 0
	}
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(time.Until(end)+grace, cancel)
	defer timer.Stop()

	var wg sync.WaitGroup
	for i := range tallies {
		t := &tallies[i]
		t.end = end
		conn := conns[i%len(conns)]
		wg.Go(func() {
			for t.open() && ctx.Err() == nil {
				err := call(callCtx, conn, t)
				if err != nil {
					if !t.open() && callCtx.Err() != nil {
						return // cut off at the end of the window: expected
					}
					if t.errors == 0 {
						t.firstErr = err
					}
					t.errors++
					continue
				}
				t.calls++
			}
		})
	}
	wg.Wait()

	res := StreamResult{Elapsed: s.Duration}
	for i := range tallies {
		t := &tallies[i]
		res.Bytes += t.bytes
		res.Calls += t.calls
		res.Errors += t.errors
		if res.FirstErr == nil && t.firstErr != nil {
			res.FirstErr = fmt.Errorf("stream %d: %w", i, t.firstErr)
		}
		if el := t.lastAck.Sub(start); el > res.Elapsed {
			res.Elapsed = el
		}
	}
	if ctx.Err() != nil {
		res.Elapsed = min(res.Elapsed, time.Since(start))
	}
	return res
}
