package server

// WithRequestReadTime shortens the time a call's request may take to arrive, for tests.
var WithRequestReadTime = withRequestReadTime
