// A WebSocket client of caas written against Node's `ws`, so the realtime API is exercised by
// a client that shares no code with the Go tests. It connects with an access token in the
// Sec-WebSocket-Protocol header, as a browser must, prints "connected", waits for the
// message.created push of the expected body in the expected conversation, prints "received"
// with the message id and exits 0. Anything else (a refused upgrade, an early close, a wrong
// subprotocol, no message within the deadline) exits 1 with the reason on stderr.
//
// Environment: CAAS_WS_URL (ws://host:port/live), CAAS_TOKEN, CAAS_CONVERSATION_ID,
// CAAS_EXPECT_BODY, and optionally CAAS_DEADLINE_MS (default 60000).
import WebSocket from "ws";

function need(name) {
  const v = process.env[name];
  if (!v) {
    fail(`${name} is not set`);
  }
  return v;
}

function fail(reason) {
  process.stderr.write(`node client: ${reason}\n`);
  process.exit(1);
}

const url = need("CAAS_WS_URL");
const token = need("CAAS_TOKEN");
const conversationId = need("CAAS_CONVERSATION_ID");
const expectBody = need("CAAS_EXPECT_BODY");
const deadlineMs = Number(process.env.CAAS_DEADLINE_MS || 60000);

const timer = setTimeout(() => fail(`no message.created within ${deadlineMs} ms`), deadlineMs);

const ws = new WebSocket(url, ["caas", token]);

ws.on("unexpected-response", (_req, res) => fail(`upgrade refused: HTTP ${res.statusCode}`));
ws.on("error", (err) => fail(`connection error: ${err.message}`));
ws.on("close", (code, reason) => fail(`closed before the message arrived: ${code} ${reason}`));

ws.on("open", () => {
  if (ws.protocol !== "caas") {
    fail(`negotiated subprotocol ${JSON.stringify(ws.protocol)}, want "caas"`);
  }
  process.stdout.write("connected\n");
});

ws.on("message", (data, isBinary) => {
  if (isBinary) {
    fail("received a binary message; pushes are JSON text");
  }
  let push;
  try {
    push = JSON.parse(data.toString("utf8"));
  } catch (err) {
    fail(`received a message that is not JSON: ${err.message}`);
  }
  if (push.type !== "message.created") {
    return;
  }
  const m = push.message || {};
  if (m.conversation_id !== conversationId || m.body !== expectBody) {
    return;
  }
  process.stdout.write(`received ${m.id}\n`);
  clearTimeout(timer);
  ws.removeAllListeners("close");
  ws.close(1000);
  ws.on("close", () => process.exit(0));
});
