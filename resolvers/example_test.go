package resolvers_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/protogate/gateway/examples/shop"
	"github.com/protogate/gateway/registry"
	"github.com/protogate/gateway/resolvers"
	"github.com/protogate/gateway/routing"
	"github.com/protogate/gateway/schema"
)

// A handler over the example shop: one snapshot's schema, with the demo's links, executed
// through the routing core's proxy.
func ExampleNewHandler() {
	sh, err := shop.Start(shop.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sh.Close()

	var regs []*registry.Registration
	for i, name := range []string{"users", "orders", "catalog"} {
		files, _ := registry.FilesOf(shopServices()[i].ParentFile())
		regs = append(regs, &registry.Registration{Name: name, Endpoints: []string{sh.Addr(name)}, Files: files})
	}
	pool := routing.NewPool(nil)
	defer pool.Close()
	snap, err := registry.Compile(registry.Spec{Registrations: regs}, pool, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer snap.Retire(pool)

	s, err := schema.Build(shopServices(), schema.Options{Links: shopLinks()})
	if err != nil {
		fmt.Println(err)
		return
	}
	h, err := resolvers.NewHandler(s, routing.NewProxy(func() routing.State { return snap }), resolvers.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}

	query := `{"query": "{ getOrder(id: \"o2\") { id user { name } items { quantity product { name } } } }"}`
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(query))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	body, _ := io.ReadAll(w.Result().Body)
	fmt.Println(string(body))
	// Output:
	// {"data":{"getOrder":{"id":"o2","user":{"name":"Ada Lovelace"},"items":[{"quantity":3,"product":{"name":"Orrery Model Kit"}},{"quantity":1,"product":{"name":"Raspberry Pi Starter Kit"}},{"quantity":2,"product":{"name":"The Analytical Engine Handbook"}}]}}}
}
