// Package fieldmask applies google.protobuf.FieldMask paths to messages: Project keeps only the
// named fields (read masks), Merge copies them from one message to another (update masks).
//
// Paths are proto field names joined by dots ("address.city"). A path may step into a singular
// message field only; repeated fields and maps are named whole.
package fieldmask

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Validate reports the first path that does not name a field of md.
func Validate(md protoreflect.MessageDescriptor, paths []string) error {
	for _, p := range paths {
		if err := validate(md, p); err != nil {
			return err
		}
	}
	return nil
}

func validate(md protoreflect.MessageDescriptor, path string) error {
	if path == "" {
		return errors.New("empty path in field mask")
	}
	d := md
	segs := strings.Split(path, ".")
	for i, seg := range segs {
		fd := d.Fields().ByName(protoreflect.Name(seg))
		if fd == nil {
			return fmt.Errorf("%q: %s has no field %q", path, d.FullName(), seg)
		}
		if i == len(segs)-1 {
			break
		}
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return fmt.Errorf("%q: field %q is not a message, so it has no subfields", path, seg)
		}
		d = fd.Message()
	}
	return nil
}

// normalize sorts paths and drops those covered by a shorter one ("address" covers
// "address.city"), so no field is visited twice.
func normalize(paths []string) []string {
	sorted := slices.Clone(paths)
	slices.Sort(sorted)
	out := sorted[:0]
	for _, p := range sorted {
		if n := len(out); n > 0 && (p == out[n-1] || strings.HasPrefix(p, out[n-1]+".")) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// Project returns a new message of src's type holding only the fields of src named by paths.
// Values are shared with src, not copied: treat both as read-only afterwards.
func Project(src protoreflect.Message, paths []string) (protoreflect.Message, error) {
	if err := Validate(src.Descriptor(), paths); err != nil {
		return nil, err
	}
	dst := src.New()
	for _, p := range normalize(paths) {
		project(dst, src, strings.Split(p, "."))
	}
	return dst, nil
}

func project(dst, src protoreflect.Message, segs []string) {
	fd := src.Descriptor().Fields().ByName(protoreflect.Name(segs[0]))
	if !src.Has(fd) {
		return
	}
	if len(segs) == 1 {
		dst.Set(fd, src.Get(fd))
		return
	}
	project(dst.Mutable(fd).Message(), src.Get(fd).Message(), segs[1:])
}

// Merge sets each field of dst named by paths to its value in src, clearing it in dst when it is
// not set in src. dst must not share values with anything that must stay unchanged; values copied
// from src are shared with src.
func Merge(dst, src protoreflect.Message, paths []string) error {
	if err := Validate(dst.Descriptor(), paths); err != nil {
		return err
	}
	for _, p := range normalize(paths) {
		merge(dst, src, strings.Split(p, "."))
	}
	return nil
}

func merge(dst, src protoreflect.Message, segs []string) {
	fd := dst.Descriptor().Fields().ByName(protoreflect.Name(segs[0]))
	if len(segs) == 1 {
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
		return
	}
	// An unset message field reads as an empty, read-only message that has no fields set.
	sub := src.Get(fd).Message()
	if !sub.IsValid() && !dst.Has(fd) {
		return // clearing fields of a message dst does not have: nothing to do
	}
	merge(dst.Mutable(fd).Message(), sub, segs[1:])
}
