package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// FilesFromProtos compiles .proto sources into a new registry of their own. sources maps import
// paths ("shop/users/v1/users.proto") to file contents; entryPoints names the files to compile (all
// of sources when empty). The files the gateway links (google/protobuf, google/api, google/rpc,
// grpc/health, grpc/reflection) resolve from its own copies, even when sources hold a copy. Comments are kept as source info.
//
// On failure the error lists every problem the compiler found, one "file:line:col: message" a line,
// ordered by file and position.
func FilesFromProtos(ctx context.Context, sources map[string]string, entryPoints []string) (*protoregistry.Files, error) {
	if len(sources) == 0 {
		return nil, errors.New("proto sources: none given")
	}
	if len(entryPoints) == 0 {
		for name := range sources {
			entryPoints = append(entryPoints, name)
		}
		slices.Sort(entryPoints)
	}
	for _, name := range entryPoints {
		if _, ok := sources[name]; !ok {
			return nil, fmt.Errorf("proto sources: entry point %q is not among the sources", name)
		}
	}
	compiled, err := compileProtos(ctx, linkedFirst(sourceResolver(sources)), entryPoints)
	if err != nil {
		return nil, err
	}

	// filesFromSet supplies the linked copies itself.
	set := &descriptorpb.FileDescriptorSet{}
	for _, fd := range compiled {
		if _, linked := linkedFile(fd.Path()); !linked {
			set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
		}
	}
	// Custom options in the compiled files are dynamic messages (the trap of LIBRARY-NOTES); a round
	// trip through the wire format makes the linked ones typed, as for an uploaded set.
	data, err := proto.MarshalOptions{AllowPartial: true}.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("proto sources: %w", err)
	}
	if set, err = decodeSet(data); err != nil {
		return nil, fmt.Errorf("proto sources: %w", err)
	}
	return filesFromSet(set, "proto sources")
}

// compileProtos compiles entryPoints and returns them with every file they import, transitively.
// Imports r does not resolve may be protoc's standard ones.
func compileProtos(ctx context.Context, r protocompile.Resolver, entryPoints []string) ([]protoreflect.FileDescriptor, error) {
	var (
		mu   sync.Mutex
		errs []reporter.ErrorWithPos
	)
	c := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(r),
		SourceInfoMode: protocompile.SourceInfoStandard,
		Reporter: reporter.NewReporter(func(err reporter.ErrorWithPos) error {
			mu.Lock()
			defer mu.Unlock()
			errs = append(errs, err)
			return nil // keep going: report everything
		}, nil),
	}
	results, err := c.Compile(ctx, entryPoints...)
	if err != nil {
		return nil, compileError(err, errs)
	}
	return closure(results), nil
}

// compileError lists the errors the reporter collected, plus err itself when the compiler returned
// one it did not report (a failed import), sorted by position and without repeats.
func compileError(err error, reported []reporter.ErrorWithPos) error {
	var ewp reporter.ErrorWithPos
	switch {
	case errors.Is(err, reporter.ErrInvalidSource):
	case errors.As(err, &ewp):
		reported = append(reported, ewp)
	default:
		if len(reported) == 0 {
			return fmt.Errorf("proto sources: %w", err)
		}
	}
	slices.SortStableFunc(reported, func(a, b reporter.ErrorWithPos) int {
		pa, pb := a.GetPosition(), b.GetPosition()
		return cmp.Or(cmp.Compare(pa.Filename, pb.Filename), cmp.Compare(pa.Line, pb.Line), cmp.Compare(pa.Col, pb.Col))
	})
	lines := make([]string, 0, len(reported))
	for _, e := range reported {
		line := e.Error()
		if !slices.Contains(lines, line) {
			lines = append(lines, line)
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

// closure returns the files and everything they import, each once.
func closure(files linker.Files) []protoreflect.FileDescriptor {
	var out []protoreflect.FileDescriptor
	seen := make(map[string]bool)
	var visit func(fd protoreflect.FileDescriptor)
	visit = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			visit(imports.Get(i).FileDescriptor)
		}
		out = append(out, fd)
	}
	for _, fd := range files {
		visit(fd)
	}
	return out
}

// sourceResolver serves sources, keyed by import path. Its error is the one the compiler reports at
// an import that nothing resolves.
func sourceResolver(sources map[string]string) protocompile.Resolver {
	return protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		src, ok := sources[path]
		if !ok {
			return protocompile.SearchResult{}, fmt.Errorf("import %q: not found", path)
		}
		return protocompile.SearchResult{Source: strings.NewReader(src)}, nil
	})
}

// linkedFirst resolves the files the gateway links (linkedPrefixes) from its own copies, and everything else with r.
func linkedFirst(r protocompile.Resolver) protocompile.Resolver {
	return protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		if fd, ok := linkedFile(path); ok {
			return protocompile.SearchResult{Desc: fd}, nil
		}
		return r.FindFileByPath(path)
	})
}

// CollectProtoSources reads .proto files from disk for FilesFromProtos, as protoc would find them,
// and returns exactly the sources compiling them needs (keyed by import path) and the import paths
// of the files themselves as entry points. It compiles them to find out, so it fails with the
// compiler's errors as FilesFromProtos would.
//
// Imports resolve from importPaths, in order, except the files the gateway links (google/protobuf,
// google/api, google/rpc, grpc/health, grpc/reflection): as in FilesFromProtos, those resolve from the gateway's copies and are
// not collected. So a copy of google/api/annotations.proto under an import path (often a trimmed
// one, as in this repository's proto/) is neither sent nor compiled against.
//
// Each file is named as protoc names it:
//   - a file on disk under an import path: its path relative to the first such import path;
//   - a path that does not exist as given but exists under an import path ("shop/users/v1/users.proto"
//     with import path "proto"): that path;
//   - a file on disk under no import path: its base name, and its directory becomes an import path
//     searched after the given ones (protoc would refuse it).
//
// With no import paths the current directory is the import path, as for protoc.
func CollectProtoSources(files, importPaths []string) (sources map[string]string, entryPoints []string, err error) {
	sources, entryPoints, _, err = collectProtoSources(files, importPaths)
	return sources, entryPoints, err
}

// collectProtoSources is CollectProtoSources, and also returns the files on disk the sources were
// read from, sorted.
func collectProtoSources(files, importPaths []string) (sources map[string]string, entryPoints, paths []string, err error) {
	if len(files) == 0 {
		return nil, nil, nil, errors.New("no .proto files given")
	}
	if len(importPaths) == 0 {
		importPaths = []string{"."}
	}
	roots := make([]string, 0, len(importPaths))
	for _, ip := range importPaths {
		abs, err := filepath.Abs(ip)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("import path %q: %w", ip, err)
		}
		roots = append(roots, abs)
	}
	for _, f := range files {
		name, extraRoot, err := protoName(f, roots)
		if err != nil {
			return nil, nil, nil, err
		}
		if extraRoot != "" && !slices.Contains(roots, extraRoot) {
			roots = append(roots, extraRoot)
		}
		if !slices.Contains(entryPoints, name) {
			entryPoints = append(entryPoints, name)
		}
	}

	disk := &diskResolver{roots: roots, read: make(map[string]string), from: make(map[string]string)}
	compiled, err := compileProtos(context.Background(), linkedFirst(disk), entryPoints)
	if err != nil {
		return nil, nil, nil, err
	}
	sources = make(map[string]string)
	for _, fd := range compiled {
		if src, ok := disk.read[fd.Path()]; ok {
			sources[fd.Path()] = src
			paths = append(paths, disk.from[fd.Path()])
		}
	}
	slices.Sort(paths)
	return sources, entryPoints, paths, nil
}

// protoName names a .proto file given on the command line; see CollectProtoSources. extraRoot is set
// when the file lies under none of roots.
func protoName(file string, roots []string) (name, extraRoot string, err error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", "", fmt.Errorf("proto file %q: %w", file, err)
	}
	if st, statErr := os.Stat(abs); statErr == nil && !st.IsDir() {
		for _, root := range roots {
			if rel, err := filepath.Rel(root, abs); err == nil && filepath.IsLocal(rel) {
				return filepath.ToSlash(rel), "", nil
			}
		}
		return filepath.Base(abs), filepath.Dir(abs), nil
	}
	if filepath.IsLocal(file) {
		for _, root := range roots {
			if st, err := os.Stat(filepath.Join(root, file)); err == nil && !st.IsDir() {
				return filepath.ToSlash(filepath.Clean(file)), "", nil
			}
		}
	}
	return "", "", fmt.Errorf("proto file %q: not found", file)
}

// diskResolver reads files under roots and remembers what it read, by import path, and from where.
type diskResolver struct {
	roots []string
	mu    sync.Mutex
	read  map[string]string // import path -> content
	from  map[string]string // import path -> the file on disk
}

func (d *diskResolver) FindFileByPath(path string) (protocompile.SearchResult, error) {
	if !filepath.IsLocal(filepath.FromSlash(path)) {
		return protocompile.SearchResult{}, fmt.Errorf("import %q: not a relative path", path)
	}
	for _, root := range d.roots {
		file := filepath.Join(root, filepath.FromSlash(path))
		data, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return protocompile.SearchResult{}, fmt.Errorf("import %q: %w", path, err)
		}
		d.mu.Lock()
		d.read[path], d.from[path] = string(data), file
		d.mu.Unlock()
		return protocompile.SearchResult{Source: strings.NewReader(string(data))}, nil
	}
	return protocompile.SearchResult{}, fmt.Errorf("import %q: not found", path)
}
