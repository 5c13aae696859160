package server_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/config"
	"github.com/protogate/gateway/examples/shop"
	ordersv1 "github.com/protogate/gateway/gen/shop/orders/v1"
	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testpki"
)

// TestMTLSEndToEnd serves the shop over TLS with tls.client_ca_file and a rule that lets only
// callers with a client certificate call ListOrders, and checks that gRPC (native, over TLS), REST
// and GraphQL give the same decision: refused as UNAUTHENTICATED (401 with a WWW-Authenticate
// challenge on REST) without a certificate, admitted with one, the upstream then seeing the
// certificate's common name as the consumer — and never the one a client claims. A method no rule
// covers answers without a certificate: the port asks for certificates, it does not require them.
func TestMTLSEndToEnd(t *testing.T) {
	serverCA := testpki.NewCA(t, "test server CA")
	roots := serverCA.Pool()
	dir := t.TempDir()
	certFile, keyFile := testpki.WriteKeyPair(t, dir, "server", serverCA.Server(t))
	ca := testpki.NewCA(t, "test client CA")
	caFile := ca.WriteFile(t, dir, "client-ca.pem")
	policies := config.Policies{
		Auth: config.Auth{MTLS: config.MTLS{Enabled: true, ConsumerFrom: "cn"}},
		Rules: []config.PolicyRule{{
			Name:  "orders-need-a-certificate",
			Match: config.PolicyMatch{Method: "/shop.orders.v1.OrderService/ListOrders"},
			Auth:  config.RuleAuth{Providers: []string{config.ProviderMTLS}},
		}},
	}.Completed()
	log := &upstreamLog{}
	g := startGateway(t, harnessOptions{
		shop:     shop.Options{OnCall: log.onCall},
		policies: &policies,
		config: func(c *config.Config) {
			c.TLS = config.ServerTLS{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile}
		},
	})

	tlsConfig := func(certs ...tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12, Certificates: certs}
	}
	spoof := []string{"X-Consumer-Id", "mallory"}
	for _, client := range []struct {
		name     string
		certs    []tls.Certificate
		want     codes.Code
		consumer string
	}{
		{"no certificate", nil, codes.Unauthenticated, ""},
		{"certificate", []tls.Certificate{ca.Client(t, "alice")}, codes.OK, "alice"},
	} {
		cfg := tlsConfig(client.certs...)
		conn, err := grpc.NewClient(g.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}, Timeout: 20 * time.Second}
		t.Cleanup(httpClient.CloseIdleConnections)

		fronts := []struct {
			name string
			call func(t *testing.T) (codes.Code, *http.Response)
		}{
			{"grpc", func(t *testing.T) (codes.Code, *http.Response) {
				ctx := metadata.AppendToOutgoingContext(testContext(t), "x-consumer-id", "mallory")
				_, err := ordersv1.NewOrderServiceClient(conn).ListOrders(ctx, &ordersv1.ListOrdersRequest{UserId: "1"})
				return status.Code(err), nil
			}},
			{"rest", func(t *testing.T) (codes.Code, *http.Response) {
				resp, body := httpsDo(t, httpClient, http.MethodGet, "https://"+g.addr+"/v1/users/1/orders", "", spoof)
				if resp.StatusCode == http.StatusOK {
					return codes.OK, resp
				}
				code, _ := rpcStatusOf(t, resp.StatusCode, body)
				return code, resp
			}},
			{"graphql", func(t *testing.T) (codes.Code, *http.Response) {
				resp, body := httpsDo(t, httpClient, http.MethodPost, "https://"+g.addr+"/graphql", listOrders.graphql, spoof)
				var out struct {
					Errors []struct {
						Extensions map[string]any `json:"extensions"`
					} `json:"errors"`
				}
				if err := json.Unmarshal(body, &out); err != nil {
					t.Fatalf("GraphQL %d: %.300s", resp.StatusCode, body)
				}
				if len(out.Errors) == 0 {
					return codes.OK, resp
				}
				name, _ := out.Errors[0].Extensions["code"].(string)
				return codeByName[name], resp
			}},
		}
		for _, f := range fronts {
			t.Run(client.name+"/"+f.name, func(t *testing.T) {
				before, _, _ := log.snapshot()
				code, resp := f.call(t)
				after, consumer, _ := log.snapshot()
				if code != client.want {
					t.Fatalf("code %v, want %v", code, client.want)
				}
				if client.want != codes.OK {
					if after != before {
						t.Fatal("LEAK: a refused call reached the backend")
					}
					if f.name == "rest" && !strings.Contains(resp.Header.Get("WWW-Authenticate"), `realm="protogate"`) {
						t.Errorf("401 with WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
					}
					return
				}
				if after == before {
					t.Fatal("admitted, but the backend saw no call")
				}
				if !slices.Equal(consumer, []string{client.consumer}) {
					t.Errorf("the backend saw x-consumer-id %q, want [%s]", consumer, client.consumer)
				}
			})
		}

		// A method no rule covers answers either way.
		t.Run(client.name+"/uncovered", func(t *testing.T) {
			user, err := usersv1.NewUserServiceClient(conn).GetUser(testContext(t), &usersv1.GetUserRequest{Id: "1"})
			if err != nil || user.GetName() != "Ada Lovelace" {
				t.Fatalf("GetUser: %v, %v", user, err)
			}
		})
	}

	// A certificate from a CA the gateway does not trust never gets as far as a policy: the
	// handshake fails.
	t.Run("untrusted certificate", func(t *testing.T) {
		other := testpki.NewCA(t, "someone else's CA")
		cert := other.Client(t, "alice")
		cfg := tlsConfig()
		// Send it though the server names other CAs (a client would otherwise send none).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
		conn, err := tls.Dial("tcp", g.addr, cfg)
		if err == nil {
			// TLS 1.3: the server's verdict on the certificate arrives with the first read.
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = conn.Read(make([]byte, 1))
			conn.Close()
		}
		var alert tls.AlertError
		if err == nil || !(strings.Contains(err.Error(), "certificate") || errors.As(err, &alert)) {
			t.Fatalf("handshake with an untrusted client certificate: %v, want a certificate alert", err)
		}
	})
}

// httpsDo sends one request; a body is sent as JSON. headers are name, value pairs.
func httpsDo(t *testing.T, c *http.Client, method, url, body string, headers []string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequestWithContext(testContext(t), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}
