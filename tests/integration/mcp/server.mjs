// A real MCP server (the official SDK, Streamable HTTP, sessions) on
// loopback with two tools, send_email and read_file. Every request that
// reaches it is logged to LOG as one JSON line ({http, method, tool}) before
// the SDK handles it, so a test can show that a refused call never arrived.
// argv: PORT LOG. Prints "listening PORT" once ready.
import { appendFileSync } from "node:fs";
import http from "node:http";
import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

const [port, log] = [Number(process.argv[2] || 0), process.argv[3]];
const transports = new Map();

function newServer() {
  const server = new McpServer({ name: "rf-test", version: "1.0.0" });
  server.registerTool("send_email", { description: "sends an email", inputSchema: { to: z.string() } },
    async ({ to }) => ({ content: [{ type: "text", text: `sent to ${to}` }] }));
  server.registerTool("read_file", { description: "reads a file", inputSchema: { path: z.string() } },
    async ({ path }) => ({ content: [{ type: "text", text: `contents of ${path}` }] }));
  return server;
}

function record(req, body) {
  const msgs = body === undefined ? [] : Array.isArray(body) ? body : [body];
  if (msgs.length === 0) appendFileSync(log, JSON.stringify({ http: req.method }) + "\n");
  for (const m of msgs)
    appendFileSync(log, JSON.stringify({ http: req.method, method: m.method ?? null,
      tool: m.params?.name ?? null, id: m.id ?? null }) + "\n");
}

const httpServer = http.createServer(async (req, res) => {
  let raw = "";
  for await (const chunk of req) raw += chunk;
  let body;
  try { body = raw ? JSON.parse(raw) : undefined; } catch { body = undefined; }
  record(req, body);
  const sid = req.headers["mcp-session-id"];
  let transport = sid ? transports.get(sid) : undefined;
  if (!transport) {
    if (sid || req.method !== "POST") {
      res.writeHead(404).end();
      return;
    }
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => transports.set(id, transport),
    });
    transport.onclose = () => transport.sessionId && transports.delete(transport.sessionId);
    await newServer().connect(transport);
  }
  await transport.handleRequest(req, res, body);
});
httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});
