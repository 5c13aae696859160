package main

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/protogate/gateway/internal/testjwt"
	"github.com/protogate/gateway/internal/testlog"
	"github.com/protogate/gateway/internal/testpki"
)

// tlsPair is a certificate and its key, PEM-encoded, and the certificate parsed.
type tlsPair struct {
	cert, key string
	leaf      *x509.Certificate
}

// newPair returns a new server certificate of ca for 127.0.0.1.
func newPair(t *testing.T, ca *testpki.CA) tlsPair {
	t.Helper()
	c := ca.Server(t)
	certFile, keyFile := testpki.WriteKeyPair(t, t.TempDir(), "server", c)
	cert, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return tlsPair{cert: string(cert), key: string(key), leaf: c.Leaf}
}

// nextConcern reads d's events until one concerns the files it follows, and returns its name and
// the names of the events it passed over before.
func nextConcern(t *testing.T, d *dirWatcher) (string, []string) {
	t.Helper()
	var passed []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-d.w.Events:
			if d.concerns(ev) {
				return ev.Name, passed
			}
			passed = append(passed, ev.Name)
		case err := <-d.w.Errors:
			t.Fatalf("watching: %v", err)
		case <-timeout:
			t.Fatalf("no event concerning the files followed within 10s (passed over %q)", passed)
		}
	}
}

// TestDirWatcher follows a key set file and a certificate in a Kubernetes Secret volume, with a
// real watcher: a write to another file of their directories is passed over, and the next event it
// reports is the key set's rewrite in place, or the volume's switch of ..data to a new version
// (the certificate's own name is in no event then). Following other files stops watching the
// directories no longer needed.
func TestDirWatcher(t *testing.T) {
	keys, certs, other := t.TempDir(), t.TempDir(), t.TempDir()
	jwks := filepath.Join(keys, "jwks.json")
	writeFile(t, jwks, "{}")
	version := func(name string) func(string) {
		return func(dir string) { writeFile(t, filepath.Join(dir, "tls.crt"), name) }
	}
	volumeVersion(t, certs, "..v1", version("one"), "tls.crt")
	cert := filepath.Join(certs, "tls.crt")
	target, err := filepath.EvalSymlinks(cert)
	if err != nil {
		t.Fatal(err)
	}

	d, err := newDirWatcher(slog.New(slog.NewTextHandler(new(testlog.Buffer), nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	d.follow([]string{jwks, cert, target})
	for _, dir := range []string{keys, certs, filepath.Dir(target)} {
		if !slices.Contains(d.w.WatchList(), dir) {
			t.Errorf("%s is not watched: %q", dir, d.w.WatchList())
		}
	}

	writeFile(t, filepath.Join(keys, "notes.txt"), "x")
	writeFile(t, filepath.Join(certs, "notes.txt"), "x")
	writeFile(t, jwks, `{"keys": []}`)
	if name, passed := nextConcern(t, d); name != jwks || slices.ContainsFunc(passed, func(p string) bool { return !strings.HasSuffix(p, "notes.txt") }) {
		t.Errorf("after writes to notes.txt and the key set: %s, passing over %q; want the key set, passing over notes.txt only", name, passed)
	}
	volumeVersion(t, certs, "..v2", version("two"))
	name, _ := nextConcern(t, d)
	for name == jwks { // the key set's rewrite can come as two events (truncated, then written)
		name, _ = nextConcern(t, d)
	}
	if !strings.HasPrefix(filepath.Base(name), "..data") {
		t.Errorf("after ..data was switched: %s, want ..data or ..data_tmp", name)
	}

	d.follow([]string{filepath.Join(other, "jwks.json")})
	if got := d.w.WatchList(); !slices.Equal(got, []string{other}) {
		t.Errorf("following one file of %s: watching %q", other, got)
	}
}

// TestReloadFollowsNamedFiles drives serve's reloader as its watcher does after each burst of
// events: a look reloads when a file the config names changed (a certificate renewed in place), not
// when nothing did, and reports a file that no longer loads once. When the config names another
// directory's certificate instead, the watcher follows that directory and no longer the first, and
// the first's files no longer reload.
func TestReloadFollowsNamedFiles(t *testing.T) {
	ca := testpki.NewCA(t, "named files CA")
	dir, certs, certs2 := t.TempDir(), t.TempDir(), t.TempDir()
	certFile, keyFile := testpki.WriteKeyPair(t, certs, "server", ca.Server(t))
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, fmt.Sprintf("tls: {cert_file: %q, key_file: %q}\n", certFile, keyFile))
	h := newReloadHarness(t, path)
	d, err := newDirWatcher(h.r.log)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	d.follow(h.r.files())
	if got := d.w.WatchList(); !slices.Contains(got, dir) || !slices.Contains(got, certs) {
		t.Errorf("watching %q, want %s and %s", got, dir, certs)
	}

	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	changedKey := regexp.MustCompile(`trigger="file changed" changed="?[^"]*` + regexp.QuoteMeta(keyFile))
	for _, step := range []struct {
		name   string
		change func()
		want   string
	}{
		{"nothing changed", nil, ""},
		{"another file of the certificate's directory", func() { writeFile(t, filepath.Join(certs, "notes.txt"), "x") }, ""},
		{"the key written again, as it was", func() { writeFile(t, keyFile, string(key)) }, ""},
		{"the certificate renewed in place", func() { testpki.WriteKeyPair(t, certs, "server", ca.Server(t)) }, "reloaded"},
		{"the key caught half-written", func() { writeFile(t, keyFile, "-----BEGIN PRIVATE KEY-----\n") }, "refused"},
		{"still half-written", nil, ""},
		{"the key written whole", func() { testpki.WriteKeyPair(t, certs, "server", ca.Server(t)) }, "reloaded"},
	} {
		if step.change != nil {
			step.change()
		}
		logged := len(h.log.String())
		if got := h.look(t, false); got != step.want {
			t.Errorf("%s: %q, want %q", step.name, got, step.want)
		}
		if line := h.log.String()[logged:]; step.want != "" && !changedKey.MatchString(line) {
			t.Errorf("%s: the log does not name the key file as changed:\n%s", step.name, line)
		}
	}

	certFile2, keyFile2 := testpki.WriteKeyPair(t, certs2, "server", ca.Server(t))
	writeFile(t, path, fmt.Sprintf("tls: {cert_file: %q, key_file: %q}\n", certFile2, keyFile2))
	if got := h.look(t, false); got != "reloaded" {
		t.Fatalf("the config naming another directory's certificate: %q, want reloaded", got)
	}
	d.follow(h.r.files())
	if got := d.w.WatchList(); !slices.Contains(got, certs2) || slices.Contains(got, certs) {
		t.Errorf("watching %q, want %s and no longer %s", got, certs2, certs)
	}
	testpki.WriteKeyPair(t, certs, "server", ca.Server(t))
	if got := h.look(t, false); got != "" {
		t.Errorf("the certificate no longer named, renewed: %q, want nothing", got)
	}
	testpki.WriteKeyPair(t, certs2, "server", ca.Server(t))
	if got := h.look(t, false); got != "reloaded" {
		t.Errorf("the certificate named now, renewed: %q, want reloaded", got)
	}
}

// TestWatchKeySet runs `gateway serve` with a JWT key set file in a directory of its own and
// rewrites the file in place, with no SIGHUP: the gateway reloads, a token of the key that left the
// set is refused and one of the key that joined it accepted. A key set rewritten with garbage is
// refused, naming the file, and the keys before verify on; written whole again, it applies. The
// key set's directory (beside the config file, whose directory is watched too) removed is refused;
// made again with a key set, it is watched again: that key set applies, and so does the next.
func TestWatchKeySet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	users, _ := serveShop(t, "users", "127.0.0.1:0")
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if err := os.Mkdir(keys, 0o755); err != nil {
		t.Fatal(err)
	}
	jwks := filepath.Join(keys, "jwks.json")
	a, b, c := testjwt.NewKey(t, "key-a"), testjwt.NewKey(t, "key-b"), testjwt.NewKey(t, "key-c")
	testjwt.WriteKeySet(t, jwks, a)
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, usersWithJWT(t, users, jwks, ""))
	gw := startProcess(t, "", "serve", "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	data := gw.awaitLines(t, listeningLine)[1]
	token := func(k testjwt.Key) string { return "Bearer " + k.Token(t, "https://issuer.test") }
	if err := getUserWith(t, data, "authorization", token(a)); err != nil {
		t.Fatalf("key A, in the key set: %v", err)
	}

	reloaded := regexp.MustCompile(`config reloaded.*trigger="file changed" changed=` + regexp.QuoteMeta(jwks))
	testjwt.WriteKeySet(t, jwks, b)
	gw.awaitLines(t, reloaded)
	if err := getUserWith(t, data, "authorization", token(a)); status.Code(err) != codes.Unauthenticated {
		t.Errorf("key A, removed from the key set: %v, want UNAUTHENTICATED", err)
	}
	if err := getUserWith(t, data, "authorization", token(b)); err != nil {
		t.Errorf("key B, now in the key set: %v", err)
	}

	writeFile(t, jwks, `{"keys": [{"kty": "EC", "kid": "key-c",`)
	// The config's validation reads the key set as the auth policy would, and names the field.
	gw.awaitLines(t, regexp.MustCompile(`config reload refused.*changed=`+regexp.QuoteMeta(jwks)+`.*jwks_file: .*`+regexp.QuoteMeta(jwks)+`.*not JSON`))
	if err := getUserWith(t, data, "authorization", token(b)); err != nil {
		t.Errorf("key B after the garbage key set was refused: %v", err)
	}

	testjwt.WriteKeySet(t, jwks, c)
	gw.awaitLines(t, reloaded)
	if err := getUserWith(t, data, "authorization", token(c)); err != nil {
		t.Errorf("key C, written whole after the garbage: %v", err)
	}
	if err := getUserWith(t, data, "authorization", token(b)); status.Code(err) != codes.Unauthenticated {
		t.Errorf("key B, removed from the key set: %v, want UNAUTHENTICATED", err)
	}

	if err := os.RemoveAll(keys); err != nil {
		t.Fatal(err)
	}
	gw.awaitLines(t, regexp.MustCompile(`config reload refused.*changed=`+regexp.QuoteMeta(jwks)))
	if err := os.Mkdir(keys, 0o755); err != nil {
		t.Fatal(err)
	}
	testjwt.WriteKeySet(t, jwks, a)
	gw.awaitLines(t, reloaded)
	if err := getUserWith(t, data, "authorization", token(a)); err != nil {
		t.Errorf("key A, in the key set of the directory made again: %v", err)
	}
	testjwt.WriteKeySet(t, jwks, b)
	gw.awaitLines(t, reloaded)
	if err := getUserWith(t, data, "authorization", token(a)); status.Code(err) != codes.Unauthenticated {
		t.Errorf("key A, removed from the key set of the directory made again: %v, want UNAUTHENTICATED", err)
	}
	gw.stop(t)
}

// TestWatchSecretVolume runs `gateway serve` with the data port's certificate and key in a
// Kubernetes Secret volume (tls.crt -> ..data/tls.crt, ..data -> a version) and updates the Secret
// as the kubelet does, with no SIGHUP: new connections get the new certificate. A version whose key
// is not its certificate's is refused, and the certificate before serves on, until the next
// version.
func TestWatchSecretVolume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ca := testpki.NewCA(t, "secret volume CA")
	dir, certs := t.TempDir(), t.TempDir()
	secret := func(cert, key tlsPair) func(string) {
		return func(v string) {
			writeFile(t, filepath.Join(v, "tls.crt"), cert.cert)
			writeFile(t, filepath.Join(v, "tls.key"), key.key)
		}
	}
	one, two, three := newPair(t, ca), newPair(t, ca), newPair(t, ca)
	volumeVersion(t, certs, "..2025_01_01_00_00_00.1", secret(one, one), "tls.crt", "tls.key")
	path := filepath.Join(dir, "gateway.yaml")
	writeFile(t, path, fmt.Sprintf("tls: {cert_file: %q, key_file: %q}\n", filepath.Join(certs, "tls.crt"), filepath.Join(certs, "tls.key")))
	gw := startProcess(t, "", "serve", "--config", path, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	data := gw.awaitLines(t, listeningLine)[1]
	if leaf := servedCertificate(t, data, ca.Pool()); !leaf.Equal(one.leaf) {
		t.Fatalf("at start: serial %s, want certificate 1's", leaf.SerialNumber)
	}

	volumeVersion(t, certs, "..2025_01_01_00_00_00.2", secret(two, two))
	gw.awaitLines(t, regexp.MustCompile(`config reloaded.*trigger="file changed"`))
	if leaf := servedCertificate(t, data, ca.Pool()); !leaf.Equal(two.leaf) {
		t.Errorf("after the Secret's update: serial %s, want certificate 2's", leaf.SerialNumber)
	}

	volumeVersion(t, certs, "..2025_01_01_00_00_00.3", secret(three, one))
	gw.awaitLines(t, regexp.MustCompile(`config reload refused.*private key does not match public key`))
	if leaf := servedCertificate(t, data, ca.Pool()); !leaf.Equal(two.leaf) {
		t.Errorf("after a version whose key is not its certificate's: serial %s, want certificate 2's", leaf.SerialNumber)
	}

	volumeVersion(t, certs, "..2025_01_01_00_00_00.4", secret(three, three))
	gw.awaitLines(t, regexp.MustCompile(`config reloaded.*trigger="file changed"`))
	if leaf := servedCertificate(t, data, ca.Pool()); !leaf.Equal(three.leaf) {
		t.Errorf("after the next version: serial %s, want certificate 3's", leaf.SerialNumber)
	}
	gw.stop(t)
}

// TestDirWatcherSymlinkedDir follows a file through a symlinked directory (conf -> releases/1), as
// a deploy that switches releases lays it out: pointing the symlink at another release is an event
// that concerns the file, and the watcher then watches the new release, whose file's rewrite is
// the next event it reports.
func TestDirWatcherSymlinkedDir(t *testing.T) {
	root := t.TempDir()
	for _, r := range []string{"1", "2"} {
		if err := os.MkdirAll(filepath.Join(root, "releases", r), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, "releases", r, "gateway.yaml"), "release "+r)
	}
	link := filepath.Join(root, "conf")
	if err := os.Symlink(filepath.Join(root, "releases", "1"), link); err != nil {
		t.Fatal(err)
	}
	d, err := newDirWatcher(slog.New(slog.NewTextHandler(new(testlog.Buffer), nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	path := filepath.Join(link, "gateway.yaml")
	d.follow([]string{path})

	tmp := filepath.Join(root, "conf.tmp") // switched as deploy tools do: a new symlink renamed over
	if err := os.Symlink(filepath.Join(root, "releases", "2"), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	if name, passed := nextConcern(t, d); name != link {
		t.Fatalf("after the symlink was switched: %s (passing over %q), want %s", name, passed, link)
	}
	if !d.missing() {
		t.Fatal("after the switch the directory's old watch is kept")
	}
	d.retry()
	if d.missing() {
		t.Fatal("the switched directory is not watched again")
	}
	writeFile(t, filepath.Join(root, "releases", "2", "gateway.yaml"), "release 2, edited")
	if name, passed := nextConcern(t, d); name != path {
		t.Errorf("after the new release's file was edited: %s (passing over %q), want %s", name, passed, path)
	}
}
