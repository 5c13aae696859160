package registry

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Registrations share files: a file of common types that two teams' services import
// (shop/common/v1/money.proto), or the files of one backend registered twice, split by --service.
// The snapshot merges every registration's files into one registry, which holds one file per path
// and one descriptor per full name: server reflection describes it, and the dynamic types resolve
// from it. So the copies of one path must agree. They may differ in comments; and, as such a file
// evolves, one team may bring a newer copy before the other: a copy may lack what another adds, by
// the rules of BreakingChanges (fields, messages, enums, enum values, methods, services). The newest
// copy, the one that holds every other compatibly, is served (sharedFiles.served).
//
// Every front serves it too: the services whose files import an older copy are linked again
// against the served one (linkToServed) for the GraphQL schema, the REST router and the OpenAPI
// document, so that a message has one description, one GraphQL type and one JSON form, whichever
// registration's method reaches it. A backend with the older copy gets the fields it does not
// know as unknown fields, which protobuf ignores, and answers without them: they read as unset. The
// registrations' own descriptors still decide what each one is checked against: its services,
// HTTP rules and breaking changes.
//
// Copies of which neither holds the other (a field one changes, or two unrelated files at one
// path) conflict: a registration cannot change, even with --allow-breaking, what another team's
// clients are served.

// fileCopy is a registration's copy of a file.
type fileCopy struct {
	fd  protoreflect.FileDescriptor
	reg *Registration
}

// sharedFiles is the copy of each path the snapshot serves, and the copies registrations bring that
// are stale: older than the one served, lacking what it adds.
type sharedFiles struct {
	served map[string]fileCopy
	stale  map[protoreflect.FileDescriptor]bool
}

// mergeFiles merges the registrations' descriptors into one registry: of the copies of a path, the
// one that holds every other compatibly (see shareFiles), linked to the served copies of the files
// it imports. Two files declaring one name conflict.
func mergeFiles(regs []*Registration) (*protoregistry.Files, *sharedFiles, error) {
	shared, err := shareFiles(regs)
	if err != nil {
		return nil, nil, err
	}
	l := servedLinker{shared: shared, out: new(protoregistry.Files), served: true, relinked: make(map[string]bool)}
	for _, r := range regs {
		r.Files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			err = l.link(fd)
			return err == nil
		})
		if rerr, ok := errors.AsType[*registerError](err); ok {
			return nil, nil, nameConflict(l.out, rerr.fd, func(path string) *Registration { return shared.served[path].reg }, rerr.err)
		}
		if err != nil {
			return nil, nil, placed(r.where, fmt.Errorf("registration %q: %w", r.Name, err))
		}
	}
	return l.out, shared, nil
}

// shareFiles picks the copy of each path that the snapshot serves: the one holding every other
// compatibly, by the rules of BreakingChanges. Of two copies that hold each other (they differ in
// options, say), the one of the registration first by name is served, so that the choice does not
// depend on which registration changed last; of copies that differ in comments alone, the first. Copies of which neither holds the
// other conflict, naming the later registration in regs first.
func shareFiles(regs []*Registration) (*sharedFiles, error) {
	s := &sharedFiles{served: make(map[string]fileCopy), stale: make(map[protoreflect.FileDescriptor]bool)}
	copies := make(map[string][]fileCopy) // path -> every registration's copy
	differ := make(map[string]bool)       // paths whose copies are not all the same
	for _, r := range regs {
		if r.Files == nil {
			return nil, placed(r.where, fmt.Errorf("registration %q has no descriptors", r.Name))
		}
		var err error
		r.Files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
			copies[fd.Path()] = append(copies[fd.Path()], fileCopy{fd, r})
			prev, ok := s.served[fd.Path()]
			if !ok {
				s.served[fd.Path()] = fileCopy{fd, r}
				return true
			}
			if sameFile(prev.fd, fd) {
				return true
			}
			differ[fd.Path()] = true
			// The served copy holds every one before it: holding it, fd holds them too.
			holdsPrev, heldByPrev := len(fileBreaks(prev.fd, fd)) == 0, len(fileBreaks(fd, prev.fd)) == 0
			switch {
			case holdsPrev && (!heldByPrev || r.Name < prev.reg.Name):
				s.served[fd.Path()] = fileCopy{fd, r}
			case heldByPrev:
			default:
				err = copyConflict(r, fd, prev)
				return false
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	for path := range differ {
		served := s.served[path].fd
		for _, c := range copies[path] {
			if c.fd != served && !sameFile(c.fd, served) {
				s.stale[c.fd] = true
			}
		}
	}
	return s, nil
}

// copyConflict is the error for registration reg's copy fd of a file that neither holds prev, the
// copy of another registration, nor is held by it.
func copyConflict(reg *Registration, fd protoreflect.FileDescriptor, prev fileCopy) error {
	if fd.Package() != prev.fd.Package() {
		return placed(reg.where, fmt.Errorf("%w: registration %q: its file %s (package %s) is another file than the %s registration %s brought (package %s): a path names one file across all registrations; name each file after its package, as %s",
			ErrConflict, reg.Name, fd.Path(), fd.Package(), prev.fd.Path(), prev.reg.label(), prev.fd.Package(),
			strings.ReplaceAll(string(fd.Package()), ".", "/")+"/"+path.Base(fd.Path())))
	}
	return placed(reg.where, fmt.Errorf("%w: registration %q: its copy of file %s and the one registration %s brought differ, and neither holds the other compatibly: a copy may only add to another (bring one that holds the other's; --allow-breaking does not change another registration's file): %s",
		ErrConflict, reg.Name, fd.Path(), prev.reg.label(), strings.Join(fileBreaks(prev.fd, fd), "; ")))
}

// linkToServed returns services, of files, linked to the copies the snapshot serves: when a file
// of files is a stale copy, it is replaced by the served one, and the files that import it,
// directly or not, are linked again against it. Otherwise it returns services themselves.
func (s *sharedFiles) linkToServed(files *protoregistry.Files, services []protoreflect.ServiceDescriptor) ([]protoreflect.ServiceDescriptor, error) {
	stale := false
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		stale = s.stale[fd]
		return !stale
	})
	if !stale {
		return services, nil
	}
	l := servedLinker{shared: s, out: new(protoregistry.Files), relinked: make(map[string]bool)}
	linked := make([]protoreflect.ServiceDescriptor, len(services))
	for i, sd := range services {
		if err := l.link(sd.ParentFile()); err != nil {
			return nil, err
		}
		d, err := l.out.FindDescriptorByName(sd.FullName())
		if err != nil {
			return nil, fmt.Errorf("service %s, linked to the served copies of the files it imports: %w", sd.FullName(), err)
		}
		linked[i] = d.(protoreflect.ServiceDescriptor)
	}
	return linked, nil
}

// servedLinker links files into out, each path once, as the snapshot serves them: a stale copy is
// replaced by the served one (with served, every copy is), and a file that imports a replaced file
// or one linked again is linked again itself, against out.
type servedLinker struct {
	shared   *sharedFiles
	out      *protoregistry.Files
	served   bool
	relinked map[string]bool // paths whose file in out is linked again
}

// registerError is out's refusal of a file: a name conflict with a file registered before.
type registerError struct {
	fd  protoreflect.FileDescriptor
	err error
}

func (e *registerError) Error() string { return e.err.Error() }

// link links fd, and the files it imports first.
func (l *servedLinker) link(fd protoreflect.FileDescriptor) error {
	if _, err := l.out.FindFileByPath(fd.Path()); err == nil {
		return nil
	}
	target := fd
	if l.served || l.shared.stale[fd] {
		target = l.shared.served[fd.Path()].fd
	}
	// The served copy may import files of which its registration brings a stale copy: those are
	// replaced too, and it is linked again.
	again := false
	imports := target.Imports()
	for i := range imports.Len() {
		imp := imports.Get(i).FileDescriptor
		if err := l.link(imp); err != nil {
			return err
		}
		again = again || l.shared.stale[imp] || l.relinked[imp.Path()]
	}
	if again {
		nfd, err := protodesc.NewFile(protodesc.ToFileDescriptorProto(target), l.out)
		if err != nil {
			return fmt.Errorf("file %s, linked to the served copies of the files it imports: %w", fd.Path(), err)
		}
		target = nfd
		l.relinked[fd.Path()] = true
	}
	if err := l.out.RegisterFile(target); err != nil {
		return &registerError{target, err}
	}
	return nil
}

// nameConflict explains why merged refused file fd (err): a name fd declares, or a package it is
// in, that a file already in merged declares, naming that file and the registrations that brought
// both (regOf: file path -> registration), with their places in the config file for config
// services. The gateway's own files (linkedFile) are no registration's: a conflict with one is told
// from the other file's side, its registration's. When no such name is found, err is returned as a
// conflict.
func nameConflict(merged *protoregistry.Files, fd protoreflect.FileDescriptor, regOf func(path string) *Registration, err error) error {
	other, name, kind := findClash(merged, fd)
	if other == nil {
		if reg := regOf(fd.Path()); reg != nil {
			return placed(reg.where, fmt.Errorf("%w: registration %q: %w", ErrConflict, reg.Name, err))
		}
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	if gatewayFile(fd) {
		fd, other, kind = other, fd, kind.reversed()
	}
	reg := regOf(fd.Path())
	otherFile := "the gateway's own file " + other.Path()
	if !gatewayFile(other) {
		otherFile = fmt.Sprintf("file %s of registration %s", other.Path(), regOf(other.Path()).label())
	}
	switch kind {
	case packageDeclared:
		err = fmt.Errorf("%w: registration %q: file %s is in package %s, but %s declares %s",
			ErrConflict, reg.Name, fd.Path(), fd.Package(), otherFile, name)
	case nameDeclared:
		err = fmt.Errorf("%w: registration %q: file %s declares %s, which %s declares already",
			ErrConflict, reg.Name, fd.Path(), name, otherFile)
	default:
		err = fmt.Errorf("%w: registration %q: file %s declares %s, which is a package of %s",
			ErrConflict, reg.Name, fd.Path(), name, otherFile)
	}
	return placed(reg.where, err)
}

// clash is how a file's names clash with another's.
type clash uint8

const (
	packageDeclared clash = iota // the file's package, or one it is under, is a name the other declares
	nameDeclared                 // a name the file declares, the other declares too
	nameIsPackage                // a name the file declares is the other's package, or one it is under
)

// reversed is the clash as the other file has it.
func (c clash) reversed() clash {
	switch c {
	case packageDeclared:
		return nameIsPackage
	case nameIsPackage:
		return packageDeclared
	}
	return c
}

// findClash returns a file of merged whose names clash with fd's, the name they clash over and
// how; nil when there is none.
func findClash(merged *protoregistry.Files, fd protoreflect.FileDescriptor) (protoreflect.FileDescriptor, protoreflect.FullName, clash) {
	held := func(name protoreflect.FullName) protoreflect.FileDescriptor {
		if d, err := merged.FindDescriptorByName(name); err == nil {
			return d.ParentFile()
		}
		return nil
	}
	// A package of fd that another file declares as a message, enum, ...
	for name := fd.Package(); name != ""; name = name.Parent() {
		if other := held(name); other != nil {
			return other, name, packageDeclared
		}
	}
	// ... or a name fd declares that another file declares too, or is a package of.
	var names []protoreflect.FullName
	declaredNames(fd, &names)
	for _, name := range names {
		if other := held(name); other != nil {
			return other, name, nameDeclared
		}
		var other protoreflect.FileDescriptor
		merged.RangeFiles(func(f protoreflect.FileDescriptor) bool {
			if p := string(f.Package()); p == string(name) || strings.HasPrefix(p, string(name)+".") {
				other = f
			}
			return other == nil
		})
		if other != nil {
			return other, name, nameIsPackage
		}
	}
	return nil, "", 0
}

// gatewayFile reports whether fd is one of the gateway's own files, which registrations import
// but do not bring (linkedFile).
func gatewayFile(fd protoreflect.FileDescriptor) bool {
	own, ok := linkedFile(fd.Path())
	return ok && own == fd
}

// declaredNames appends the full names a file puts in its package's scope, as protoregistry.Files
// registers them: its messages, nested ones included, enums and their values, extensions and
// services.
func declaredNames(fd protoreflect.FileDescriptor, names *[]protoreflect.FullName) {
	enums := func(es protoreflect.EnumDescriptors) {
		for i := range es.Len() {
			e := es.Get(i)
			*names = append(*names, e.FullName())
			for j := range e.Values().Len() {
				*names = append(*names, e.Values().Get(j).FullName())
			}
		}
	}
	extensions := func(xs protoreflect.ExtensionDescriptors) {
		for i := range xs.Len() {
			*names = append(*names, xs.Get(i).FullName())
		}
	}
	var messages func(ms protoreflect.MessageDescriptors)
	messages = func(ms protoreflect.MessageDescriptors) {
		for i := range ms.Len() {
			m := ms.Get(i)
			*names = append(*names, m.FullName())
			enums(m.Enums())
			extensions(m.Extensions())
			messages(m.Messages())
		}
	}
	messages(fd.Messages())
	enums(fd.Enums())
	extensions(fd.Extensions())
	for i := range fd.Services().Len() {
		*names = append(*names, fd.Services().Get(i).FullName())
	}
}

func sameFile(a, b protoreflect.FileDescriptor) bool {
	if a == b {
		return true
	}
	// Comments do not change what a file defines: one registration may bring a file compiled from
	// source and another the same file from reflection, without source info.
	pa, pb := protodesc.ToFileDescriptorProto(a), protodesc.ToFileDescriptorProto(b)
	pa.SourceCodeInfo, pb.SourceCodeInfo = nil, nil
	opts := proto.MarshalOptions{Deterministic: true}
	ab, err1 := opts.Marshal(pa)
	bb, err2 := opts.Marshal(pb)
	return err1 == nil && err2 == nil && string(ab) == string(bb)
}
