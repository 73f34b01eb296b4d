// Command ferretdb runs an embedded FerretDB v1 with the SQLite handler, so infrabot has a real
// MongoDB-wire-protocol server on machines without MongoDB. FerretDB's own cmd is not used because
// it panics without a version file that only its release build generates.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("data", ".data/ferretdb", "directory for the SQLite files")
	// Throwaway test data need not wait for the disk on every commit; WAL keeps it consistent either way.
	sync := flag.String("synchronous", "full", "SQLite synchronous pragma: full, or normal for throwaway data")
	// The benchmark compares writes through the gate with writes straight to FerretDB's socket.
	unixSocket := flag.String("socket", "", "FerretDB's own Unix socket, behind the gate (default: a private temporary one)")
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

	// FerretDB decodes every stored document it reads into fresh objects: at Go's default heap target
	// (GOGC=100) collecting them took a tenth of its CPU under `make bench`. Four times the target costs
	// some memory (63 MB resident after `make bench`); GOGC in the environment still decides when set.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// FerretDB listens on a Unix socket of its own; clients reach it through the write gate (writegate.go).
	socket := *unixSocket
	if socket == "" {
		sockets, err := os.MkdirTemp("", "ferretdb")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(sockets)
		socket = filepath.Join(sockets, "ferretdb.sock")
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{Unix: socket},
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
	// The TCP port opens only once FerretDB answers on its socket: an open port means ready (config/local_services.py).
	if err := waitForSocket(socket, done, 30*time.Second); err != nil {
		fail(err)
	}
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		fail(err)
	}
	gate := &writeGate{backend: socket, logger: logger}
	gated := make(chan error, 1)
	go func() { gated <- gate.serve(listener) }()
	go keepIDIndexes(ctx, abs, time.Second, logger)
	fmt.Printf("ferretdb listening: mongodb://%s/\n", listener.Addr())

	select {
	case err = <-gated:
		// The gate stops only on an accept error: without it nobody can reach FerretDB.
		fail(fmt.Errorf("write gate: %w", err))
	case err = <-done:
	case <-ctx.Done():
		_ = listener.Close()
		err = <-done // FerretDB closes its SQLite databases before Run returns
	}
	if err != nil {
		fail(err)
	}
}

func waitForSocket(path string, done <-chan error, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			return fmt.Errorf("ferretdb stopped while starting: %v", err)
		default:
		}
		if conn, err := net.Dial("unix", path); err == nil {
			_ = conn.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("ferretdb did not listen on %s within %s", path, within)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ferretdb:", err)
	os.Exit(1)
}
