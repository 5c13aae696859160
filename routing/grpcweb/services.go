package grpcweb

import (
	"fmt"
	"io"
	"reflect"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var _ grpc.ServiceRegistrar = (*Handler)(nil)

// method is a method of a service registered on a Handler.
type method struct {
	impl    any                // the service's implementation
	handler grpc.StreamHandler // a unary method's handler wrapped as grpc.Server wraps it
	// oneRequest is set for the methods that take one request message (unary and server
	// streaming): the request body must hold exactly one.
	oneRequest bool
}

// RegisterService registers a service and its implementation, as
// grpc.Server.RegisterService does, so that the generated Register functions
// (healthpb.RegisterHealthServer, ...) take a Handler. A call of one of its
// methods is then served by that method's own handler; every other method,
// an unknown one of a registered service included, goes to the Handler's
// StreamHandler, as grpc.Server sends them to its UnknownServiceHandler. A
// gateway registers the same implementations on its native gRPC server and
// on its gRPC-Web Handler, and both fronts answer alike.
//
// The method's handler gets the call's stream as the StreamHandler does,
// with no interceptor; a unary or server-streaming method's RecvMsg fails
// with Internal, as grpc-go's does, unless the request body holds exactly
// one message. Client and bidi streaming methods read as many as it holds.
//
// RegisterService must be called before the Handler serves its first
// request. It panics, as grpc.Server's does, on a service registered twice,
// on an implementation that does not satisfy desc.HandlerType, and when
// called after the Handler started serving: those are wiring mistakes.
func (h *Handler) RegisterService(desc *grpc.ServiceDesc, impl any) {
	if h.serving.Load() {
		panic(fmt.Sprintf("grpcweb: RegisterService(%q) called after the Handler started serving", desc.ServiceName))
	}
	if impl != nil && desc.HandlerType != nil {
		want := reflect.TypeOf(desc.HandlerType).Elem()
		if got := reflect.TypeOf(impl); !got.Implements(want) {
			panic(fmt.Sprintf("grpcweb: RegisterService(%q): the implementation of type %v does not satisfy %v", desc.ServiceName, got, want))
		}
	}
	if _, ok := h.services[desc.ServiceName]; ok {
		panic(fmt.Sprintf("grpcweb: RegisterService(%q): the service is registered already", desc.ServiceName))
	}
	if h.services == nil {
		h.services = make(map[string]struct{})
		h.methods = make(map[string]method)
	}
	h.services[desc.ServiceName] = struct{}{}
	prefix := "/" + desc.ServiceName + "/"
	for i := range desc.Methods {
		h.methods[prefix+desc.Methods[i].MethodName] = method{impl: impl, handler: unaryHandler(desc.Methods[i].Handler), oneRequest: true}
	}
	for i := range desc.Streams {
		sd := &desc.Streams[i]
		h.methods[prefix+sd.StreamName] = method{impl: impl, handler: sd.Handler, oneRequest: !sd.ClientStreams}
	}
}

// unaryHandler runs a unary method as a stream handler, as grpc.Server does: one request message
// in, the reply out.
func unaryHandler(mh grpc.MethodHandler) grpc.StreamHandler {
	return func(srv any, ss grpc.ServerStream) error {
		reply, err := mh(srv, ss.Context(), ss.RecvMsg, nil)
		if err != nil {
			return err
		}
		return ss.SendMsg(reply)
	}
}

// serve runs the method's handler on s.
func (m *method) serve(s *serverStream) error {
	if m.oneRequest {
		return m.handler(m.impl, &oneRequestStream{serverStream: s})
	}
	return m.handler(m.impl, s)
}

// oneRequestStream is the stream of a method that takes one request message. Its first RecvMsg
// reads the body to its end and fails unless the body holds exactly that one message, as grpc-go
// checks a native call; later calls read on (io.EOF).
type oneRequestStream struct {
	*serverStream
	read bool
}

func (s *oneRequestStream) RecvMsg(m any) error {
	if s.read {
		return s.serverStream.RecvMsg(m)
	}
	s.read = true
	err := s.serverStream.RecvMsg(m)
	if err == io.EOF {
		return status.Errorf(codes.Internal, "grpc-web: cardinality violation: %s takes one request message, and the request body holds none", s.method)
	}
	if err != nil {
		return err
	}
	return s.endOfBody()
}

// endOfBody checks that the request body has no message left: nil at its clean end, an error
// naming the method when one more follows.
func (s *serverStream) endOfBody() error {
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	if s.recvClosed {
		return status.Error(codes.Internal, "grpc-web: RecvMsg called after the call ended")
	}
	buf, err := s.frames.next()
	switch {
	case err == io.EOF:
		return nil
	case err != nil:
		return s.recvError(err)
	}
	buf.Free()
	return status.Errorf(codes.Internal, "grpc-web: cardinality violation: %s takes one request message, and the request body holds more", s.method)
}
