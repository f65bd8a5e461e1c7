package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Kinds of migration step.
const (
	StepCreateType  = "create record type"
	StepAddField    = "add field"
	StepRetireField = "retire field"
	StepCreateIndex = "create index"
	StepDropIndex   = "drop index"
)

// Step is one change of a migration plan.
type Step struct {
	Kind  string
	Type  string
	Def   RecordType // StepCreateType: the type
	Field *Field     // StepAddField, StepRetireField
	Index *Index     // StepCreateIndex, StepDropIndex
}

// String describes the step for `embly db migrate`.
func (s Step) String() string {
	switch s.Kind {
	case StepCreateType:
		return fmt.Sprintf("create record type %s (table with %d columns, %d indexes)", s.Type, len(s.Def.Fields)+1, len(s.Def.Indexes))
	case StepAddField:
		return fmt.Sprintf("add field %s.%s (%s, number %d); existing records read it as unset", s.Type, s.Field.Name, s.Field.Type, s.Field.Number)
	case StepRetireField:
		return fmt.Sprintf("retire field %s.%s (number %d): no longer declared; its column and data stay, and its number may not be reused", s.Type, s.Field.Name, s.Field.Number)
	case StepCreateIndex:
		kind := "index"
		if s.Index.Unique {
			kind = "unique index"
		}
		return fmt.Sprintf("create %s on %s.%s", kind, s.Type, s.Index.Field)
	case StepDropIndex:
		return fmt.Sprintf("drop index on %s.%s", s.Type, s.Index.Field)
	}
	return s.Kind + " " + s.Type
}

// Plan is what it takes to bring a vinyl database's applied schema to the
// declared one.
type Plan struct {
	DB      string
	Steps   []Step
	Refused []string // incompatible changes, each with why and what to do
	// Next is the schema to record as applied once the steps are done.
	Next map[string]RecordType
}

// Empty reports whether there is nothing to do.
func (p *Plan) Empty() bool { return len(p.Steps) == 0 && len(p.Refused) == 0 }

// OnlyCreates reports whether every step creates a new record type: a plan
// that `embly run` applies on its own, since it changes no existing data.
func (p *Plan) OnlyCreates() bool {
	if len(p.Refused) > 0 {
		return false
	}
	for _, s := range p.Steps {
		if s.Kind != StepCreateType {
			return false
		}
	}
	return true
}

// String lists the steps and the refusals, one per line.
func (p *Plan) String() string {
	var b strings.Builder
	if p.Empty() {
		fmt.Fprintf(&b, "vinyl database %q: up to date\n", p.DB)
		return b.String()
	}
	fmt.Fprintf(&b, "vinyl database %q:\n", p.DB)
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "  + %s\n", s)
	}
	for _, r := range p.Refused {
		fmt.Fprintf(&b, "  ! refused: %s\n", r)
	}
	return b.String()
}

// Err returns an error matching ErrSchemaChanged when the plan has
// refusals or steps beyond creating new types, nil otherwise.
func (p *Plan) Err() error {
	if p.OnlyCreates() {
		return nil
	}
	what := "run `embly db migrate` to apply it"
	if len(p.Refused) > 0 {
		what = "the refused changes cannot be applied; undo them in the .proto or embly.hcl"
	}
	return fmt.Errorf("%w: %s%s", ErrSchemaChanged, p.String(), what)
}

// PlanMigration compares the applied record types of database db with the
// declared ones. New types, new fields and new or dropped indexes are
// steps; a changed primary key, a field whose type, number or presence
// changed, and a field number or name reused with another meaning are
// refused, because the records already stored would be read wrong. Types
// no longer declared are left alone, with their data.
func PlanMigration(db string, applied map[string]RecordType, want Schema) *Plan {
	p := &Plan{DB: db, Next: map[string]RecordType{}}
	for name, t := range applied {
		p.Next[name] = t
	}
	for _, t := range want.Types {
		old, ok := applied[t.Name]
		if !ok {
			p.Steps = append(p.Steps, Step{Kind: StepCreateType, Type: t.Name, Def: t})
			p.Next[t.Name] = t
			continue
		}
		p.diffType(old, t)
	}
	return p
}

func (p *Plan) refuse(format string, args ...any) {
	p.Refused = append(p.Refused, fmt.Sprintf(format, args...))
}

func (p *Plan) diffType(old, t RecordType) {
	n := len(p.Refused)
	if old.PrimaryKey != t.PrimaryKey || old.Key().Type != t.Key().Type {
		p.refuse("%s: the primary key changed from %s (%s) to %s (%s); records are stored by their key, so it cannot change: declare a new record type and copy the records",
			t.Name, old.PrimaryKey, old.Key().Type, t.PrimaryKey, t.Key().Type)
	}
	next := t
	next.Retired = nil
	var steps []Step
	for _, f := range t.Fields {
		if prev := findField(old.Fields, f.Name); prev != nil {
			p.checkSame(t.Name, *prev, f)
			continue
		}
		if prev := findField(old.Retired, f.Name); prev != nil {
			p.checkSame(t.Name, *prev, f) // declared again: its column is still there
			continue
		}
		if prev := fieldByNumber(old, f.Number); prev != nil {
			p.refuse("%s.%s reuses field number %d, which was %s.%s: records already stored would read their %s as %s; give %s a new number (and mark %d reserved)",
				t.Name, f.Name, f.Number, t.Name, prev.Name, prev.Name, f.Name, f.Name, f.Number)
			continue
		}
		f := f
		steps = append(steps, Step{Kind: StepAddField, Type: t.Name, Field: &f})
	}
	for _, f := range old.Retired {
		if findField(t.Fields, f.Name) == nil {
			next.Retired = append(next.Retired, f)
		}
	}
	for _, f := range old.Fields {
		if findField(t.Fields, f.Name) == nil {
			f := f
			steps = append(steps, Step{Kind: StepRetireField, Type: t.Name, Field: &f})
			next.Retired = append(next.Retired, f)
		}
	}
	for _, idx := range old.Indexes {
		if now := t.Index(idx.Field); now == nil || now.Unique != idx.Unique {
			idx := idx
			steps = append(steps, Step{Kind: StepDropIndex, Type: t.Name, Index: &idx})
		}
	}
	for _, idx := range t.Indexes {
		if was := old.Index(idx.Field); was == nil || was.Unique != idx.Unique {
			idx := idx
			steps = append(steps, Step{Kind: StepCreateIndex, Type: t.Name, Index: &idx})
		}
	}
	if len(p.Refused) > n {
		return
	}
	p.Steps = append(p.Steps, steps...)
	if len(steps) > 0 || old.Message != t.Message {
		p.Next[t.Name] = next
	}
}

func (p *Plan) checkSame(typ string, old, f Field) {
	switch {
	case old.Type != f.Type:
		p.refuse("%s.%s changed type from %s to %s; stored records hold %s values: add a new field with a new number instead", typ, f.Name, old.Type, f.Type, old.Type)
	case old.Number != f.Number:
		p.refuse("%s.%s changed number from %d to %d; stored records carry it under %d: keep the number", typ, f.Name, old.Number, f.Number, old.Number)
	case old.Nullable != f.Nullable:
		p.refuse("%s.%s changed presence (optional); stored records say unset differently: add a new field instead", typ, f.Name)
	}
}

func findField(fields []Field, name string) *Field {
	i := slices.IndexFunc(fields, func(f Field) bool { return f.Name == name })
	if i < 0 {
		return nil
	}
	return &fields[i]
}

func fieldByNumber(t RecordType, n int32) *Field {
	for _, list := range [][]Field{t.Fields, t.Retired} {
		for i := range list {
			if list[i].Number == n {
				return &list[i]
			}
		}
	}
	return nil
}

// MetaTable is the table that keeps each vinyl database's applied schema:
// one row per record type, its RecordType as JSON.
const MetaTable = "vinyl_schema"

// Applier is what a backend provides for OpenRecords and Migrate.
type Applier interface {
	// Applied returns the applied record types of database db.
	Applied(ctx context.Context, db string) (map[string]RecordType, error)
	// Apply runs the plan's steps and records plan.Next as applied.
	Apply(ctx context.Context, plan *Plan) error
}

// Migrate plans database db's migration to schema and applies the plan
// when apply is set and nothing is refused.
func Migrate(ctx context.Context, a Applier, db string, schema Schema, apply bool) (*Plan, error) {
	applied, err := a.Applied(ctx, db)
	if err != nil {
		return nil, err
	}
	plan := PlanMigration(db, applied, schema)
	if !apply || len(plan.Refused) > 0 || plan.Empty() && sameTypes(applied, plan.Next) {
		return plan, nil
	}
	return plan, a.Apply(ctx, plan)
}

// PrepareRecords is the part of Backend.Records every backend shares: it
// creates the types new to the store and fails when anything else changed.
func PrepareRecords(ctx context.Context, a Applier, db string, schema Schema) error {
	applied, err := a.Applied(ctx, db)
	if err != nil {
		return err
	}
	plan := PlanMigration(db, applied, schema)
	if err := plan.Err(); err != nil {
		return err
	}
	if len(plan.Steps) == 0 {
		return nil
	}
	return a.Apply(ctx, plan)
}

func sameTypes(a, b map[string]RecordType) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		x, _ := json.Marshal(v)
		y, _ := json.Marshal(b[k])
		if string(x) != string(y) {
			return false
		}
	}
	return true
}
