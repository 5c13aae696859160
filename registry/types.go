package registry

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// types resolves the message and extension types of a snapshot's descriptors. It adds to
// dynamicpb.Types the by-message listing of extensions that server reflection asks for.
type types struct {
	*dynamicpb.Types
	byMessage map[protoreflect.FullName][]protoreflect.ExtensionType
}

func newTypes(files *protoregistry.Files) *types {
	t := &types{Types: dynamicpb.NewTypes(files), byMessage: make(map[protoreflect.FullName][]protoreflect.ExtensionType)}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		t.addExtensions(fd.Extensions())
		t.addNested(fd.Messages())
		return true
	})
	return t
}

func (t *types) addNested(mds protoreflect.MessageDescriptors) {
	for i := range mds.Len() {
		t.addExtensions(mds.Get(i).Extensions())
		t.addNested(mds.Get(i).Messages())
	}
}

func (t *types) addExtensions(xds protoreflect.ExtensionDescriptors) {
	for i := range xds.Len() {
		xt, err := t.FindExtensionByName(xds.Get(i).FullName())
		if err != nil {
			continue
		}
		msg := xds.Get(i).ContainingMessage().FullName()
		t.byMessage[msg] = append(t.byMessage[msg], xt)
	}
}

// RangeExtensionsByMessage calls f for each extension of message until f returns false.
func (t *types) RangeExtensionsByMessage(message protoreflect.FullName, f func(protoreflect.ExtensionType) bool) {
	for _, xt := range t.byMessage[message] {
		if !f(xt) {
			return
		}
	}
}
