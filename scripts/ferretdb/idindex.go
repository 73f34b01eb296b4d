package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the same pure-Go SQLite FerretDB itself uses
)

// FerretDB v1.24's SQLite backend looks a document up by `_id` with `_ferretdb_sjson->'$._id' = ?`, but
// builds each collection's unique `_id` index on `_ferretdb_sjson->"_id"`. SQLite matches index expressions
// by their text, so that index is never used and every lookup by `_id` scans the whole table: its cost grows
// with every document the collection ever got. keepIDIndexes adds an index on the very expression the
// lookups use, to every collection table, as collections appear. FerretDB reads its own index list from its
// metadata, so it neither sees nor drops this one; dropping the collection drops the table and the index.
func keepIDIndexes(ctx context.Context, dir string, every time.Duration, logger *slog.Logger) {
	open := map[string]*sql.DB{}
	defer func() {
		for _, db := range open {
			_ = db.Close()
		}
	}()
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, file := range files {
			db := open[file]
			if db == nil {
				var err error
				db, err = sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
				if err != nil {
					logger.Warn("id index: cannot open", "file", file, "error", err)
					continue
				}
				db.SetMaxOpenConns(1)
				open[file] = db
			}
			if err := addIDIndexes(ctx, db); err != nil && ctx.Err() == nil {
				logger.Warn("id index: cannot add", "file", file, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func addIDIndexes(ctx context.Context, db *sql.DB) error {
	// Tables of FerretDB's collections that lack the index, found in the schema without writing anything.
	rows, err := db.QueryContext(ctx, `
		SELECT c.table_name FROM _ferretdb_collections c
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master m WHERE m.type = 'index' AND m.name = c.table_name || '__id_path')`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil // a database FerretDB has not written its metadata to yet
		}
		return err
	}
	var tables []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			_ = rows.Close()
			return err
		}
		tables = append(tables, table)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, table := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, table+"__id_path", table)
		if _, err := db.ExecContext(ctx, q); err != nil && !strings.Contains(err.Error(), "no such table") {
			return err
		}
	}
	return nil
}
