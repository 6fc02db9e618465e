// The intake benchmark's reference (docs/benchmarks.md): a Node receiver built on @octokit/webhooks that
// verifies each delivery's signature and answers 202, storing nothing. Usage: node server.js PORT SECRET
import http from "node:http";
import { Webhooks } from "@octokit/webhooks";

const [port, secret] = process.argv.slice(2);
if (!port || !secret) {
  console.error("usage: node server.js PORT SECRET");
  process.exit(2);
}
const webhooks = new Webhooks({ secret });

http
  .createServer((request, response) => {
    if (request.method === "GET") {
      response.writeHead(200).end("ok");
      return;
    }
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const ok = await webhooks.verify(body, request.headers["x-hub-signature-256"] ?? "");
      response.writeHead(ok ? 202 : 401, { "content-type": "application/json" });
      response.end(ok ? `{"delivery":"${request.headers["x-github-delivery"]}","accepted":true}` : '{"error":"signature"}');
    });
  })
  .listen(Number(port), "127.0.0.1", () => console.log(`listening on 127.0.0.1:${port}`));
