package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
)

// FerretDB v1's SQLite backend takes one writer at a time, and a writer that finds the database locked sleeps
// in SQLite's busy handler (1, 2, 5, 10 … 100 ms) before it tries again. With a dozen writers from several
// processes those sleeps, not the writes, are most of a write's time: measured here, 16 concurrent updates
// had a p99 of 87 ms where one alone takes 2 ms. writeGate stands in front of FerretDB on the TCP port and
// lets one write command through at a time, in the order they came, so a write waits in a queue for about
// as long as the writes ahead of it take and never sleeps in SQLite. Reads pass straight through: SQLite's
// write-ahead log lets them run beside a writer.
//
// One kind of write goes ahead of the queue: inserts into the chat history (`messages`). A chat process stores
// a user's words before it answers, so each of those inserts has somebody waiting on it, while the writes
// around it (status, cards, audit) have nobody watching the clock. Measured under the Slack benchmark at 50
// conversations, the words' insert was nearly all of the wait before the reply. So that the others cannot
// starve, a queued ordinary write is let through after every `urgentRun` urgent ones.

const (
	opMsg         = 2013
	headerLen     = 16
	maxMessageLen = 48 * 1024 * 1024 // MongoDB's maxMessageSizeBytes
	moreToCome    = 1 << 1
)

// Commands that write to SQLite: everything else reads.
var writeCommands = map[string]bool{
	"insert": true, "update": true, "delete": true, "findAndModify": true, "findandmodify": true,
	"create": true, "drop": true, "dropDatabase": true, "createIndexes": true, "dropIndexes": true,
	"renameCollection": true, "collMod": true,
}

const urgentRun = 4

// urgentCollection is the collection whose inserts jump the queue.
const urgentCollection = "messages"

type writeGate struct {
	backend string // FerretDB's Unix socket
	logger  *slog.Logger

	mu     sync.Mutex
	busy   bool
	run    int // urgent writes let through in a row while an ordinary one waited
	urgent []chan struct{}
	normal []chan struct{}
}

// acquire waits for the gate; urgent waiters are served first, in the order they came.
func (g *writeGate) acquire(urgent bool) {
	g.mu.Lock()
	if !g.busy {
		g.busy = true
		g.mu.Unlock()
		return
	}
	turn := make(chan struct{})
	if urgent {
		g.urgent = append(g.urgent, turn)
	} else {
		g.normal = append(g.normal, turn)
	}
	g.mu.Unlock()
	<-turn
}

// release hands the gate straight to the next waiter, so nobody can slip in between.
func (g *writeGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	var next chan struct{}
	switch {
	case len(g.urgent) > 0 && (len(g.normal) == 0 || g.run < urgentRun):
		next, g.urgent = g.urgent[0], g.urgent[1:]
		if len(g.normal) > 0 {
			g.run++
		}
	case len(g.normal) > 0:
		next, g.normal = g.normal[0], g.normal[1:]
		g.run = 0
	default:
		g.busy = false
		return
	}
	close(next)
}

func (g *writeGate) serve(l net.Listener) error {
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go g.relay(conn)
	}
}

// relay passes one client connection's messages to FerretDB and the answers back. A driver sends one
// request on a connection and waits for its answer before the next, so the gate is held from a write's
// request until its answer, and a connection that dies mid-write still lets it go.
func (g *writeGate) relay(client net.Conn) {
	defer client.Close()
	backend, err := net.Dial("unix", g.backend)
	if err != nil {
		g.logger.Warn("write gate: cannot reach FerretDB", "error", err)
		return
	}
	defer backend.Close()
	for {
		request, err := readMessage(client)
		if err != nil {
			return
		}
		write, urgent := classify(request)
		if write {
			g.acquire(urgent)
		}
		err = g.exchange(client, backend, request)
		if write {
			g.release()
		}
		if err != nil {
			return
		}
	}
}

func (g *writeGate) exchange(client, backend net.Conn, request []byte) error {
	if _, err := backend.Write(request); err != nil {
		return err
	}
	if flags(request)&moreToCome != 0 {
		return nil // the client asked for no answer
	}
	for {
		answer, err := readMessage(backend)
		if err != nil {
			return err
		}
		if _, err := client.Write(answer); err != nil {
			return err
		}
		// An exhaust reply announces more answers to the same request.
		if flags(answer)&moreToCome == 0 {
			return nil
		}
	}
}

func readMessage(r io.Reader) ([]byte, error) {
	header := make([]byte, headerLen)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, err
	}
	size := int(int32(binary.LittleEndian.Uint32(header)))
	if size < headerLen || size > maxMessageLen {
		return nil, fmt.Errorf("message of %d bytes", size)
	}
	message := make([]byte, size)
	copy(message, header)
	if _, err := io.ReadFull(r, message[headerLen:]); err != nil {
		return nil, err
	}
	return message, nil
}

func opCode(m []byte) int32 { return int32(binary.LittleEndian.Uint32(m[12:16])) }

// flags are OP_MSG's flag bits; other opcodes have none that matter here.
func flags(m []byte) uint32 {
	if opCode(m) != opMsg || len(m) < headerLen+4 {
		return 0
	}
	return binary.LittleEndian.Uint32(m[headerLen : headerLen+4])
}

// classify reads the command's name, the first key of the OP_MSG body (section kind 0): whether it writes,
// and whether it is an insert into the urgent collection.
func classify(m []byte) (write, urgent bool) {
	if opCode(m) != opMsg {
		// Legacy opcodes carry only a driver's first handshake; OP_COMPRESSED would hide the command, but
		// infrabot's clients never ask for compression, and an ungated write only falls back to FerretDB's own
		// behaviour, which the Redis document locks already guard against.
		return false, false
	}
	body := m[headerLen+4:]
	for len(body) > 0 {
		kind := body[0]
		body = body[1:]
		if len(body) < 4 {
			return false, false
		}
		size := int(int32(binary.LittleEndian.Uint32(body)))
		if size < 5 || size > len(body) {
			return false, false
		}
		if kind == 0 {
			name, value := firstElement(body[:size])
			return writeCommands[name], name == "insert" && value == urgentCollection
		}
		body = body[size:] // a document sequence (kind 1): the body comes before or after it
	}
	return false, false
}

// firstElement is a BSON document's first key and, when that element is a string, its value.
func firstElement(doc []byte) (string, string) {
	if len(doc) < 6 {
		return "", ""
	}
	kind, rest := doc[4], doc[5:] // after the length: the first element's type byte, then its name
	end := bytes.IndexByte(rest, 0)
	if end < 0 {
		return "", ""
	}
	name, rest := string(rest[:end]), rest[end+1:]
	const bsonString = 0x02
	if kind != bsonString || len(rest) < 4 {
		return name, ""
	}
	size := int(int32(binary.LittleEndian.Uint32(rest)))
	if size < 1 || size+4 > len(rest) {
		return name, ""
	}
	return name, string(rest[4 : 4+size-1]) // the string's length counts its closing zero
}
