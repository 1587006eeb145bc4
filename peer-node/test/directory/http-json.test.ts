// The directory's HTTP client (node:http, kept-alive connections) against a real server on port 0: what
// it sends, what it reads, what it refuses, and a kept-alive connection the server closed while idle.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { JsonHttpClient, ResponseTooLargeError } from "../../src/directory/http-json.js";

const servers: http.Server[] = [];
const clients: JsonHttpClient[] = [];

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(): JsonHttpClient {
  const c = new JsonHttpClient();
  clients.push(c);
  return c;
}

const request = (method: string, body?: string) => ({ method, headers: { accept: "application/json" }, body, signal: AbortSignal.timeout(5_000), maxResponseBytes: 1024 });

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

describe("JsonHttpClient", () => {
  it("sends the method, headers and body, and reads the status and JSON answer", async () => {
    const url = await serve((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        res.writeHead(201, { "content-type": "application/json" });
        res.end(JSON.stringify({ method: req.method, accept: req.headers.accept, got: JSON.parse(body) }));
      });
    });
    const answer = await client().request(`${url}/api/v1/login`, request("POST", JSON.stringify({ name: "alice" })));
    expect(answer).toEqual({ status: 201, body: { method: "POST", accept: "application/json", got: { name: "alice" } } });
  });

  it("gives an empty or non-JSON body as undefined, with its status", async () => {
    const url = await serve((req, res) => {
      res.writeHead(req.url === "/empty" ? 204 : 502);
      res.end(req.url === "/empty" ? undefined : "<html>bad gateway</html>");
    });
    expect(await client().request(`${url}/empty`, request("GET"))).toEqual({ status: 204, body: undefined });
    expect(await client().request(`${url}/html`, request("GET"))).toEqual({ status: 502, body: undefined });
  });

  it("refuses a body over the limit and a redirect", async () => {
    const url = await serve((req, res) => {
      if (req.url === "/big") return res.end(JSON.stringify({ pad: "x".repeat(4096) }));
      res.writeHead(302, { location: "http://example.com/" });
      res.end();
    });
    await expect(client().request(`${url}/big`, request("GET"))).rejects.toBeInstanceOf(ResponseTooLargeError);
    await expect(client().request(`${url}/moved`, request("GET"))).rejects.toThrow("unexpected redirect");
  });

  it("sends a request again when the server had closed the kept-alive connection it went on", async () => {
    let answered = 0;
    const url = await serve((_req, res) => {
      answered++;
      res.end(JSON.stringify({ answered }));
    });
    const c = client();
    expect((await c.request(`${url}/a`, request("GET"))).body).toEqual({ answered: 1 });
    // The server drops every idle connection, as one whose keep-alive timeout ran out does, and the
    // client's next request goes out on the connection it kept before it learns so.
    servers[0]!.closeIdleConnections();
    expect((await c.request(`${url}/b`, request("GET"))).body).toEqual({ answered: 2 });
  });

  it("says ECONNREFUSED when nothing listens", async () => {
    const url = await serve(() => {});
    await new Promise((r) => servers.pop()!.close(r));
    await expect(client().request(`${url}/`, request("GET"))).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});
