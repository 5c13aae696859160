package store_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/protogate/gateway/registry/store"
)

// crashEnv, when set to a data dir, turns the test binary into the child of TestCrashMidCommit.
const crashEnv = "STORE_TEST_CRASH_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
	}
	os.Exit(m.Run())
}

// TestCrashMidCommit kills a process that commits and drops in a loop, at a random point of a
// commit or drop, and checks that the store it leaves holds exactly the commits it reported, or
// one more (durable but not yet reported), each with its drop done or, for the last one, not yet;
// that the next Open leaves no file behind that MANIFEST does not list; and that the next process
// carries on from there.
func TestCrashMidCommit(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip("cannot re-run the test binary:", err)
	}
	dir := t.TempDir()
	reported := 0
	for range 8 {
		reported = crashRound(t, exe, dir, reported+10)
		s := mustOpen(t, dir) // the kernel released the dead child's lock
		st := mustLoad(t, s)
		n := crashCommits(st)
		if n != reported && n != reported+1 {
			t.Fatalf("store holds %d commits after the child reported %d, want %[2]d or %d", n, reported, reported+1)
		}
		if dropped, undropped := crashState(n, false), crashState(n, true); !sameState(st, dropped) && !sameState(st, undropped) {
			t.Fatalf("after %d commits the store holds\n%q %v\nwant\n%q %v\nor, the last drop not done yet,\n%q %v", n,
				describe(st.Records), st.Active, describe(dropped.Records), dropped.Active, describe(undropped.Records), undropped.Active)
		}
		files := slices.Sorted(maps.Keys(snapshot(t, dir)))
		records := slices.DeleteFunc(slices.Clone(files), func(path string) bool { return !strings.HasPrefix(path, "records/") })
		if len(records) != len(st.Records) || len(files) != len(records)+1 {
			t.Fatalf("data dir holds %q after Open, want MANIFEST and the %d record files it lists", files, len(st.Records))
		}
		s.Close()
		reported = n
	}
}

// crashRound runs a child committing into dir and kills it at a random point of the commit that
// follows commit target. It returns the last commit the child reported.
func crashRound(t *testing.T, exe, dir string, target int) (reported int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // bounds the test, not a synchronisation
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var killed atomic.Bool
	var start time.Time // when the child reported commit target-5
	for lines := bufio.NewScanner(stdout); lines.Scan(); {
		n, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "committed "))
		if err != nil {
			t.Errorf("child: %s", lines.Text())
			continue
		}
		reported = n
		switch {
		case n == target-5:
			start = time.Now()
		case n == target:
			// Whatever the child is doing, kill it within the time a commit takes. The delay only
			// moves where the kill lands; nothing waits for it.
			commit := max(time.Since(start)/5, time.Millisecond)
			time.AfterFunc(rand.N(commit), func() {
				killed.Store(true) // before the child can die of it
				cmd.Process.Kill()
			})
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil || !killed.Load() {
		t.Fatalf("child ended before it was killed (%v, %v); stderr:\n%s", err, ctx.Err(), stderr.Bytes())
	}
	return reported
}

// crashChild commits crashRecord(i) for i following what dir holds, each followed by the drop of
// the version of its name that crashKeep no longer keeps, reporting each on stdout, until it is
// killed. Its first drops are the ones a kill may have left undone.
func crashChild(dir string) {
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	s, err := store.Open(dir)
	if err != nil {
		fail(err)
	}
	st, err := s.Load(ctx)
	if err != nil {
		fail(err)
	}
	// dropOld drops the version of name that crashKeep no longer keeps once newest is active.
	dropOld := func(name string, newest uint64) {
		if newest <= crashKeep {
			return
		}
		if err := s.Drop(ctx, name, newest-crashKeep); err != nil {
			fail(err)
		}
	}
	for name, newest := range st.Active {
		dropOld(name, newest)
	}
	for i := crashCommits(st) + 1; ; i++ {
		r := crashRecord(i)
		if err := s.Commit(ctx, r.Name, r.Version, r); err != nil {
			fail(err)
		}
		dropOld(r.Name, r.Version)
		fmt.Printf("committed %d\n", i)
	}
}

// crashKeep is how many versions of each name a child keeps.
const crashKeep = 3

// crashRecord is what the i-th commit (from 1) of a child adds, and activates: the next version of
// one of five names in turn, with a payload of a few KiB.
func crashRecord(i int) store.Record {
	r := rec(fmt.Sprintf("svc-%d", (i-1)%5), uint64((i-1)/5+1))
	r.Payload = bytes.Repeat(fmt.Appendf(nil, "commit %d;", i), 400)
	return r
}

// crashCommits is the number of the last commit of crashRecord that st holds.
func crashCommits(st store.State) int {
	n := 0
	for _, r := range st.Records {
		var name int
		fmt.Sscanf(r.Name, "svc-%d", &name)
		n = max(n, int(r.Version-1)*5+name+1)
	}
	return n
}

// crashState is the state after the first n commits of crashRecord and their drops; with
// undropped, the drop of commit n is not done yet.
func crashState(n int, undropped bool) store.State {
	st := store.State{Active: make(map[string]uint64)}
	for name := range 5 {
		for i := name + 1; i <= n; i += 5 {
			keep := crashKeep
			if undropped && (n-1)%5 == name {
				keep++
			}
			if i+keep*5 > n {
				r := crashRecord(i)
				st.Records = append(st.Records, r)
				st.Active[r.Name] = r.Version
			}
		}
	}
	return st
}

// sameState reports whether a and b hold the same records and active versions.
func sameState(a, b store.State) bool {
	return slices.Equal(describe(a.Records), describe(b.Records)) && maps.Equal(a.Active, b.Active)
}
