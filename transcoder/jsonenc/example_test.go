package jsonenc_test

import (
	"fmt"

	"github.com/protogate/gateway/transcoder/jsonenc"
)

func ExampleAppendString() {
	line := []byte(`{"path":`)
	line = jsonenc.AppendString(line, "/v1/users/\"1\"\n\u2028\xff")
	fmt.Println(string(append(line, '}')))
	// Output: {"path":"/v1/users/\"1\"\n\u2028\ufffd"}
}

func ExampleAppendProtoString() {
	b, err := jsonenc.AppendProtoString(nil, "Grüße\t<b>")
	fmt.Println(string(b), err)
	_, err = jsonenc.AppendProtoString(nil, "\xff")
	fmt.Println(err)
	// Output:
	// "Grüße\t<b>" <nil>
	// jsonenc: invalid UTF-8
}
