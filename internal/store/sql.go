package store

import (
	"bytes"
	"fmt"
	"strings"
)

// ListQuery builds the SQL of a List on table, for both SQL backends: the
// live keys of database db that start with prefix and sort after cursor, in
// byte order, one more than limit (so that the caller knows whether another
// page follows; see Page). ph returns the placeholder of the i-th argument
// (1-based): "?" for SQLite, "$i" for PostgreSQL.
//
// The prefix is a key range [prefix, PrefixEnd(prefix)), never a LIKE: it
// is exact for any bytes (LIKE has wildcards and collation rules) and both
// engines answer it with a range scan of the primary key.
func ListQuery(table string, ph func(int) string, db string, prefix, cursor []byte, now int64, limit int) (string, []any) {
	var q strings.Builder
	args := []any{db}
	arg := func(v any) string {
		args = append(args, v)
		return ph(len(args))
	}
	fmt.Fprintf(&q, "SELECT key FROM %s WHERE db = %s", table, ph(1))
	if len(cursor) > 0 && bytes.Compare(cursor, prefix) >= 0 {
		fmt.Fprintf(&q, " AND key > %s", arg(cursor))
	} else if len(prefix) > 0 {
		fmt.Fprintf(&q, " AND key >= %s", arg(prefix))
	}
	if end := PrefixEnd(prefix); end != nil {
		fmt.Fprintf(&q, " AND key < %s", arg(end))
	}
	fmt.Fprintf(&q, " AND (expires = 0 OR expires > %s) ORDER BY key LIMIT %d", arg(now), limit+1)
	return q.String(), args
}

// Page trims the limit+1 keys a ListQuery returned to a page: at most limit
// keys, and the cursor of the next page (the page's last key) when a key
// was left over, or nil.
func Page(keys [][]byte, limit int) ([][]byte, []byte) {
	if len(keys) <= limit {
		return keys, nil
	}
	keys = keys[:limit]
	return keys, keys[limit-1]
}

// Question is the placeholder style of SQLite: ?.
func Question(int) string { return "?" }

// Dollar is the placeholder style of PostgreSQL: $1, $2, ...
func Dollar(i int) string { return fmt.Sprintf("$%d", i) }
