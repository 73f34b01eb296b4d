// Command ferretdb runs an embedded FerretDB v1 with the SQLite handler, so infrabot has a real
// MongoDB-wire-protocol server on machines without MongoDB. FerretDB's own cmd is not used because
// it panics without a version file that only its release build generates.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("data", ".data/ferretdb", "directory for the SQLite files")
	// Throwaway test data need not wait for the disk on every commit; WAL keeps it consistent either way.
	sync := flag.String("synchronous", "full", "SQLite synchronous pragma: full, or normal for throwaway data")
	flag.Parse()

	if *sync != "full" && *sync != "normal" {
		fail(fmt.Errorf("-synchronous must be full or normal, not %q", *sync))
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fail(err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		fail(err)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/?_pragma=synchronous(" + *sync + ")",
		Logger:    logger,
	})
	if err != nil {
		fail(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	go keepIDIndexes(ctx, abs, time.Second, logger)
	fmt.Println("ferretdb listening:", f.MongoDBURI())

	if err := <-done; err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ferretdb:", err)
	os.Exit(1)
}
