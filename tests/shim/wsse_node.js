// Calls GetStock through node-soap with its own WS-Security UsernameToken and prints
// what it parsed, as JSON. node-soap writes the token (and its digest) itself.
//
// stdin:  {"wsdl": URL, "endpoint": URL, "user": ..., "password": ...,
//          "digest": bool, "sku": ..., "headers": [XML string, ...]}
// stdout: {"kind": "answer", "result": ...} or {"kind": "fault", "status": N, "fault": ...}
//         or {"kind": "error", "message": ...}
"use strict";

const path = require("path");
const soap = require(path.join(__dirname, "node", "node_modules", "soap"));

async function main(job) {
  try {
    const client = await soap.createClientAsync(job.wsdl, { disableCache: true });
    client.setEndpoint(job.endpoint);
    const passwordType = job.digest ? "PasswordDigest" : "PasswordText";
    client.setSecurity(
      new soap.WSSecurity(job.user, job.password, { passwordType, hasNonce: true })
    );
    for (const header of job.headers || []) {
      client.addSoapHeader(header);
    }
    const [result] = await client.GetStockAsync({ sku: job.sku });
    return { kind: "answer", result };
  } catch (err) {
    if (err.root && err.root.Envelope) {
      const status = err.response ? err.response.status : null;
      return { kind: "fault", status, fault: err.root.Envelope.Body.Fault };
    }
    return { kind: "error", message: String(err && err.message) };
  }
}

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", async () => {
  process.stdout.write(JSON.stringify(await main(JSON.parse(input))));
});
