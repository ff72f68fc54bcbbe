package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeDeadline bounds the Node client's whole run: connect, receive, exit.
const nodeDeadline = 90 * time.Second

// TestNodeClient runs tests/node/client.mjs, a WebSocket client on Node's `ws` package, against
// the platform: it connects with bob's token and must receive the message alice sends over
// HTTP. make test-real sets CAAS_NODE_CLIENT=1 after `npm ci` in tests/node; then a missing
// node or package is a failure, not a reason to skip, so the non-Go client cannot silently
// drop out of the suite.
func TestNodeClient(t *testing.T) {
	if os.Getenv("CAAS_NODE_CLIENT") != "1" {
		t.Skip("CAAS_NODE_CLIENT=1 (set by make test-real) runs the Node.js client")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("CAAS_NODE_CLIENT=1 but node is not installed: %v", err)
	}
	dir := filepath.Join(the.root, "tests", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ws", "package.json")); err != nil {
		t.Fatalf("the ws package is not installed in %s: run npm ci there (%v)", dir, err)
	}

	w := getWorld(t)
	c := api()
	alice := mustRegister(t, c, w.a, "node-alice")
	bob := mustRegister(t, c, w.a, "node-bob")
	convID := createConversation(t, c, alice, "direct", "", bob.id)
	body := "hello node " + marker()

	ctx, cancel := context.WithTimeout(context.Background(), nodeDeadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"CAAS_WS_URL=ws://"+the.wsAddr+wsPath,
		"CAAS_TOKEN="+bob.token,
		"CAAS_CONVERSATION_ID="+convID,
		"CAAS_EXPECT_BODY="+body,
		"CAAS_DEADLINE_MS=60000")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	var sentID, receivedID string
	for line := range lines {
		switch {
		case line == "connected":
			sentID = mustSend(t, c, alice, convID, "node-1", body).str("id")
		case strings.HasPrefix(line, "received "):
			receivedID = strings.TrimPrefix(line, "received ")
		}
	}
	err = cmd.Wait()
	if err != nil {
		t.Fatalf("node client: %v\nstderr: %s", err, stderr.String())
	}
	if sentID == "" {
		t.Fatalf("the node client exited 0 without saying it connected; stderr: %s", stderr.String())
	}
	if receivedID != sentID {
		t.Errorf("node client received message %q, want %q", receivedID, sentID)
	}
}
