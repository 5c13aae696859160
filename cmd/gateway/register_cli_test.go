package main

import (
	"path/filepath"
	"strings"
	"testing"

	usersv1 "github.com/protogate/gateway/gen/shop/users/v1"
	"github.com/protogate/gateway/internal/testnet"
	"github.com/protogate/gateway/registry/store"
)

// wantOneLine fails t unless a command failed with exactly one line of output, containing each of
// wants.
func wantOneLine(t *testing.T, what, out string, ok bool, wants ...string) {
	t.Helper()
	if ok {
		t.Errorf("%s: succeeded:\n%s", what, out)
		return
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 {
		t.Errorf("%s: %d lines, want one:\n%s", what, len(lines), out)
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("%s: output does not say %q:\n%s", what, want, out)
		}
	}
}

// register's reflection flags are refused where they would be ignored: a negative --refresh, and
// --refresh or --reflect-endpoint without --reflect. Nothing is sent to the gateway (there is none).
func TestRegisterRefusesIgnoredFlags(t *testing.T) {
	setFile := filepath.Join(t.TempDir(), "users.binpb")
	writeDescriptorSet(t, setFile, usersv1.File_shop_users_v1_users_proto)
	common := []string{"register", "--admin", "http://" + testnet.Refused(t), "--name", "users", "--endpoint", "127.0.0.1:50051"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"negative refresh", []string{"--reflect", "--refresh", "-5s"}, "--refresh -5s is negative"},
		{"refresh without reflect", []string{"--descriptor-set", setFile, "--refresh", "1m"}, "--refresh applies only with --reflect"},
		{"reflect endpoint without reflect", []string{"--descriptor-set", setFile, "--reflect-endpoint", "127.0.0.1:50052"}, "--reflect-endpoint applies only with --reflect"},
		{"zero refresh without reflect", []string{"--descriptor-set", setFile, "--refresh", "0s"}, "--refresh applies only with --reflect"},
	} {
		out, ok := cli(t, append(common, tc.args...)...)
		wantOneLine(t, tc.name, out, ok, tc.want)
	}
}

// A registration by reflection whose backend accepts and never answers outlasts --timeout, which
// bounds the gateway's reflection too: the CLI says what it waited for, not "context deadline
// exceeded".
func TestRegisterTimeoutSaysWhat(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	_, _, admin := startServe(t, t.TempDir())
	silent := testnet.Silent(t)
	out, ok := cli(t, "register", "--admin", "http://"+admin, "--name", "slow", "--endpoint", silent, "--reflect", "--timeout", "1s")
	wantOneLine(t, "register --reflect of a silent backend", out, ok,
		"register: the gateway at http://"+admin+" did not answer within 1s (--timeout)", "the reflection of "+silent)
	if strings.Contains(out, "context deadline exceeded") {
		t.Errorf("the output still says only that a context's deadline passed:\n%s", out)
	}

	// Any admin command names itself and the gateway.
	out, ok = cli(t, "services", "list", "--admin", "http://"+silent, "--timeout", "1s")
	wantOneLine(t, "services list against a silent admin port", out, ok,
		"services list: the gateway at http://"+silent+" did not answer within 1s (--timeout)")
}

// A data dir that cannot be used is named once in the error, not once by serve and again by the store.
func TestServeNamesDataDirOnce(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir) // holds the data dir, as another gateway would
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out, ok := cli(t, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir", dir)
	wantOneLine(t, "serve on a data dir in use", out, ok, "data dir "+dir+" in use by another gateway")
	if n := strings.Count(out, dir); n != 2 { // the dir, and its lock file
		t.Errorf("the output names the data dir %d times, want it once and its lock file once:\n%s", n, out)
	}
	if strings.Count(out, "data dir ") != 1 {
		t.Errorf("the output says \"data dir\" more than once:\n%s", out)
	}
}
