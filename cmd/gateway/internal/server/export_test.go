package server

// WithRequestReadTime shortens the time a gRPC call's request may take to arrive, for tests.
var WithRequestReadTime = withRequestReadTime
