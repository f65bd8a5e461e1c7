package vinyl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"github.com/hashicorp/hcl/v2"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/embly/embly/internal/config"
	"github.com/embly/embly/internal/store"
)

// Database is a vinyl database of the project: its record types as the
// store keeps them, and the message descriptors the host encodes and
// decodes records with.
type Database struct {
	Name   string
	Schema store.Schema
	// Messages maps each record type's name to its message.
	Messages map[string]protoreflect.MessageDescriptor
}

// Load compiles the .proto of every vinyl database of proj and resolves
// their record blocks. Every problem is reported at once, as a
// *config.DiagnosticsError: errors in a .proto at their file:line:col in it,
// a record naming a missing message or field at the block in embly.hcl.
func Load(ctx context.Context, proj *config.Project) ([]*Database, error) {
	var dbs []*Database
	var diags hcl.Diagnostics
	sources := map[string][]byte{}
	for _, cdb := range proj.Databases {
		if cdb.Type != "vinyl" {
			continue
		}
		db, d := compile(ctx, proj, cdb, sources)
		diags = append(diags, d...)
		if db != nil {
			dbs = append(dbs, db)
		}
	}
	if diags.HasErrors() {
		e := proj.Diagnostics(diags)
		for name, src := range sources {
			e.Sources[name] = src
		}
		return nil, e
	}
	return dbs, nil
}

func diag(rng hcl.Range, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf(format, args...), Subject: rng.Ptr()}
}

// compile parses one database's .proto and checks its records against it.
func compile(ctx context.Context, proj *config.Project, cdb *config.Database, sources map[string][]byte) (*Database, hcl.Diagnostics) {
	// Positions in the .proto are shown relative to the project, like
	// embly.hcl's; imports resolve next to it.
	rel, err := filepath.Rel(proj.Dir, cdb.Definition)
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = cdb.Definition
	}
	var diags hcl.Diagnostics
	rep := reporter.NewReporter(func(e reporter.ErrorWithPos) error {
		pos := e.GetPosition()
		name := pos.Filename
		if name == filepath.Base(cdb.Definition) {
			name = rel
		}
		p := hcl.Pos{Line: pos.Line, Column: pos.Col, Byte: pos.Offset}
		diags = append(diags, diag(hcl.Range{Filename: name, Start: p, End: p}, "%v", e.Unwrap()))
		return nil
	}, nil)
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{filepath.Dir(cdb.Definition)}}),
		Reporter: rep,
	}
	files, err := c.Compile(ctx, filepath.Base(cdb.Definition))
	if src, rerr := os.ReadFile(cdb.Definition); rerr == nil {
		sources[rel] = src
	}
	if err != nil {
		if len(diags) == 0 || !errors.Is(err, reporter.ErrInvalidSource) {
			diags = append(diags, diag(cdb.DefinitionRange, "database %q: cannot compile %s: %v", cdb.Name, rel, err))
		}
		return nil, diags
	}
	file := files[0]
	db := &Database{Name: cdb.Name, Messages: map[string]protoreflect.MessageDescriptor{}}
	for _, rec := range cdb.Records {
		md := findMessage(file, rec.Message)
		if md == nil {
			diags = append(diags, diag(rec.MessageRange, "record %q: %s has no message %q%s", rec.Message, rel, rec.Message, messageHint(file, rec.Message)))
			continue
		}
		rt, d := recordType(rec, md, rel)
		diags = append(diags, d...)
		db.Schema.Types = append(db.Schema.Types, rt)
		db.Messages[rec.Message] = md
	}
	return db, diags
}

// findMessage looks a record's message up by full name, or by name in the
// file's package.
func findMessage(file protoreflect.FileDescriptor, name string) protoreflect.MessageDescriptor {
	if md := file.Messages().ByName(protoreflect.Name(name)); md != nil {
		return md
	}
	full := protoreflect.FullName(name)
	var found protoreflect.MessageDescriptor
	var walk func(ms protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len() && found == nil; i++ {
			if ms.Get(i).FullName() == full || ms.Get(i).FullName() == file.Package().Append(protoreflect.Name(name)) {
				found = ms.Get(i)
			}
			walk(ms.Get(i).Messages())
		}
	}
	walk(file.Messages())
	return found
}

func messageHint(file protoreflect.FileDescriptor, name string) string {
	var names []string
	for i := 0; i < file.Messages().Len(); i++ {
		names = append(names, string(file.Messages().Get(i).Name()))
	}
	if len(names) == 0 {
		return "; it declares no messages"
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return fmt.Sprintf("; did you mean %q?", n)
		}
	}
	return fmt.Sprintf("; it declares %s", strings.Join(quoteAll(names), ", "))
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// ColumnType returns the column type of a field, and false for a field
// that cannot be a column (a message, a group, a repeated field or a map).
func ColumnType(fd protoreflect.FieldDescriptor) (store.ColumnType, bool) {
	if fd.IsList() || fd.IsMap() {
		return "", false
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return store.Bool, true
	case protoreflect.EnumKind,
		protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return store.Int, true
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return store.Float, true
	case protoreflect.StringKind:
		return store.Text, true
	case protoreflect.BytesKind:
		return store.Bytes, true
	}
	return "", false
}

// recordType resolves a record block against its message: every scalar
// field becomes a column; the key and the indexes must be among them.
func recordType(rec *config.Record, md protoreflect.MessageDescriptor, file string) (store.RecordType, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	rt := store.RecordType{Name: rec.Message, Message: string(md.FullName()), PrimaryKey: rec.PrimaryKey}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		typ, ok := ColumnType(fd)
		if !ok {
			continue
		}
		if fd.Name() == store.DataColumn {
			diags = append(diags, diag(rec.MessageRange, "record %q: field %s is named like Embly's own column; rename it", rec.Message, fd.Name()))
		}
		rt.Fields = append(rt.Fields, store.Field{
			Name: string(fd.Name()), Number: int32(fd.Number()), Type: typ,
			Nullable: fd.HasPresence() && string(fd.Name()) != rec.PrimaryKey,
		})
	}
	// checkField says what is wrong with naming field as a key or index.
	checkField := func(name, role string, rng hcl.Range) *store.Field {
		fd := fields.ByName(protoreflect.Name(name))
		if fd == nil {
			diags = append(diags, diag(rng, "record %q: message %s in %s has no field %q%s", rec.Message, md.FullName(), file, name, fieldHint(md, name)))
			return nil
		}
		if _, ok := ColumnType(fd); !ok {
			diags = append(diags, diag(rng, "record %q: field %q is %s; %s must be a scalar field (a number, string, bytes, bool or enum)", rec.Message, name, describe(fd), role))
			return nil
		}
		return rt.Field(name)
	}
	if f := checkField(rec.PrimaryKey, "a primary key", rec.PrimaryKeyRange); f != nil {
		switch f.Type {
		case store.Int:
			rt.AutoKey = true
		case store.Text, store.Bytes:
		default:
			diags = append(diags, diag(rec.PrimaryKeyRange, "record %q: field %q is a %s; a primary key must be an integer (assigned when zero), a string or bytes", rec.Message, rec.PrimaryKey, fields.ByName(protoreflect.Name(rec.PrimaryKey)).Kind()))
		}
	}
	for _, idx := range rec.Indexes {
		if idx.Field == rec.PrimaryKey {
			diags = append(diags, diag(idx.Range, "record %q: %q is the primary key, which is unique and indexed already; remove this index", rec.Message, idx.Field))
			continue
		}
		if checkField(idx.Field, "an indexed field", idx.Range) != nil {
			rt.Indexes = append(rt.Indexes, store.Index{Field: idx.Field, Unique: idx.Unique})
		}
	}
	return rt, diags
}

func describe(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "a map"
	case fd.IsList():
		return "repeated"
	}
	return "a " + fd.Kind().String()
}

func fieldHint(md protoreflect.MessageDescriptor, name string) string {
	var names []string
	for i := 0; i < md.Fields().Len(); i++ {
		n := string(md.Fields().Get(i).Name())
		if strings.EqualFold(n, name) || strings.ReplaceAll(strings.ToLower(n), "_", "") == strings.ToLower(name) {
			return fmt.Sprintf("; did you mean %q?", n)
		}
		names = append(names, n)
	}
	return fmt.Sprintf("; its fields are %s", strings.Join(quoteAll(names), ", "))
}
