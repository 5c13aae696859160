// Package testpki makes certificates for tests: a certificate authority of
// the test's own, the server and client certificates it signs, and
// self-signed server certificates, with their keys.
//
// Every key is a fresh ECDSA P-256 key and every certificate is valid from
// an hour ago to a day from now. Two CAs share nothing: one does not verify
// the certificates of the other. Certificates come as tls.Certificate values,
// Leaf set, for servers and clients made in the test; WriteKeyPair and
// CA.WriteFile put them in PEM files for what reads its TLS material from
// disk (the gateway's configuration, redis-server).
//
//	ca := testpki.NewCA(t, "upstream CA")
//	caFile := ca.WriteFile(t, dir, "ca.pem")
//	certFile, keyFile := testpki.WriteKeyPair(t, dir, "client", ca.Client(t, "gateway"))
//	srv := &tls.Config{Certificates: []tls.Certificate{ca.Server(t)}, ClientCAs: ca.Pool()}
//
// Failures end the test with t.Fatal.
package testpki
