package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/protogate/gateway/registry/store"
)

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "gateway-data")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := store.Open(filepath.Join(dir, "data"))
	if err != nil {
		log.Fatal(err)
	}
	v1 := store.Record{Name: "shop.users", Version: 1, Digest: "sha256:aa", CreatedAt: time.Now(), Payload: []byte("v1")}
	v2 := store.Record{Name: "shop.users", Version: 2, Digest: "sha256:bb", CreatedAt: time.Now(), Payload: []byte("v2")}
	if err := s.Commit(ctx, "shop.users", 1, v1); err != nil { // register
		log.Fatal(err)
	}
	if err := s.Commit(ctx, "shop.users", 2, v2); err != nil { // update
		log.Fatal(err)
	}
	if err := s.Commit(ctx, "shop.users", 1); err != nil { // roll back
		log.Fatal(err)
	}
	s.Close()

	s, err = store.Open(filepath.Join(dir, "data")) // after a restart
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	st, err := s.Load(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range st.Records {
		fmt.Printf("%s v%d %s\n", r.Name, r.Version, r.Payload)
	}
	fmt.Println("active:", st.Active)
	// Output:
	// shop.users v1 v1
	// shop.users v2 v2
	// active: map[shop.users:1]
}
