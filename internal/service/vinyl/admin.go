package vinyl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/embly/embly/internal/store"
)

// Migrate prints the plan of every database in dbs and, when apply is set,
// applies the plans that have no refusals. It fails when a plan is refused
// or fails to apply. This is `embly db migrate`.
func Migrate(ctx context.Context, backend store.Backend, dbs []*Database, apply bool, out io.Writer) error {
	var errs []error
	for _, db := range dbs {
		plan, err := backend.Migrate(ctx, db.Name, db.Schema, false)
		if err != nil {
			return err
		}
		fmt.Fprint(out, plan)
		switch {
		case len(plan.Refused) > 0:
			errs = append(errs, fmt.Errorf("vinyl database %q: %d change(s) refused; undo them, or declare a new record type (or field) and copy the data", db.Name, len(plan.Refused)))
		case plan.Empty() || !apply:
		default:
			if _, err := backend.Migrate(ctx, db.Name, db.Schema, true); err != nil {
				errs = append(errs, err)
				continue
			}
			fmt.Fprintf(out, "  applied %d step(s)\n", len(plan.Steps))
		}
	}
	return errors.Join(errs...)
}

// Inspect prints each record type of dbs: its table, indexes, how many
// records it holds and up to sample of them as JSON. This is `embly db
// inspect`.
func Inspect(ctx context.Context, backend store.Backend, dbs []*Database, sample int, out io.Writer) error {
	for _, db := range dbs {
		recs, err := backend.Records(ctx, db.Name, db.Schema)
		if err != nil {
			return fmt.Errorf("vinyl database %q: %w", db.Name, err)
		}
		fmt.Fprintf(out, "vinyl database %q\n", db.Name)
		for _, rt := range db.Schema.Types {
			n, err := recs.Count(ctx, rt.Name)
			if err != nil {
				return err
			}
			var idx []string
			for _, i := range rt.Indexes {
				if i.Unique {
					idx = append(idx, i.Field+" (unique)")
				} else {
					idx = append(idx, i.Field)
				}
			}
			fmt.Fprintf(out, "  record %s (%s): %d records; primary key %s; indexes: %s\n", rt.Name, rt.Message, n, rt.PrimaryKey, orNone(idx))
			if sample <= 0 || n == 0 {
				continue
			}
			rows, err := recs.Query(ctx, rt.Name, store.Query{Limit: sample})
			if err != nil {
				return err
			}
			for _, r := range rows {
				js, err := db.Encode(&rt, r, FormatJSON)
				if err != nil {
					js = []byte(err.Error())
				}
				fmt.Fprintf(out, "    %s\n", js)
			}
		}
	}
	return nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
