// A real MCP client (the official SDK) run inside the sandbox: it reaches
// the server through ringfence's proxy (undici's ProxyAgent on HTTP_PROXY;
// without HTTP_PROXY it connects directly, for the control run). Prints one
// line per step: "STEP ok DETAIL" or "STEP error MESSAGE".
// argv: URL
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { fetch as undiciFetch, ProxyAgent } from "undici";

const url = new URL(process.argv[2]);
const proxy = process.env.HTTP_PROXY || process.env.http_proxy;
const dispatcher = proxy ? new ProxyAgent(proxy) : undefined;
const fetchVia = (u, init) => undiciFetch(u, { ...init, dispatcher });
const transport = new StreamableHTTPClientTransport(url, { fetch: fetchVia });
const client = new Client({ name: "rf-test-client", version: "1.0.0" });

async function step(name, fn) {
  try {
    console.log(`${name} ok ${JSON.stringify(await fn())}`);
  } catch (e) {
    console.log(`${name} error ${JSON.stringify(String(e?.message ?? e))}`);
  }
}

await step("initialize", async () => {
  await client.connect(transport);  // initialize, then notifications/initialized
  return client.getServerVersion()?.name;
});
await step("tools_list", async () => (await client.listTools()).tools.map((t) => t.name).sort());
await step("call_read_file", async () =>
  (await client.callTool({ name: "read_file", arguments: { path: "/etc/motd" } })).content[0].text);
await step("call_send_email", async () =>
  (await client.callTool({ name: "send_email", arguments: { to: "boss@example.com" } })).content[0].text);
await step("call_after_refusal", async () =>
  (await client.callTool({ name: "read_file", arguments: { path: "/again" } })).content[0].text);
await step("terminate", async () => {
  await transport.terminateSession();
  return "done";
});
await client.close();
process.exit(0);
