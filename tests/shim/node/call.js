// Calls SOAP operations with Node's `soap` package and prints what it parsed, as JSON.
//
// stdin: {"jobs": [{"wsdl": URL or file, "endpoint": URL, "operation": name,
//                   "args": {...}, "service": name?, "port": name?, "soap12": bool?,
//                   "headers": [XML string, ...]?, "namespace": URI?}, ...]}
// "namespace": the rpc wrapper's namespace (soap:body's), which node-soap does not read
// from the binding: it writes the definitions' targetNamespace unless told otherwise.
// stdout: one entry per job, in order:
//   {"kind": "answer", "result": ...}        what the client returned
//   {"kind": "fault", "status": N, "fault": ...}   the Fault as the client parsed it
//   {"kind": "error", "message": ...}        anything else (no answer, unreadable answer)
"use strict";

const soap = require("soap");

const clients = new Map();

async function clientFor(job) {
  const key = `${job.wsdl} ${job.soap12 ? 12 : 11}`;
  if (!clients.has(key)) {
    const options = { disableCache: true, forceSoap12Headers: Boolean(job.soap12) };
    clients.set(key, await soap.createClientAsync(job.wsdl, options));
  }
  return clients.get(key);
}

function methodOf(client, job) {
  if (!job.service && !job.port) {
    return client[job.operation + "Async"].bind(client);
  }
  const description = client.describe();
  const service = job.service || Object.keys(description)[0];
  const port = job.port || Object.keys(description[service])[0];
  const method = client[service][port][job.operation];
  return (args) =>
    new Promise((resolve, reject) => {
      method(args, (err, result, raw, header) => (err ? reject(err) : resolve([result, raw, header])));
    });
}

async function run(job) {
  let client;
  let saved;
  try {
    client = await clientFor(job);
    const defs = client.wsdl.definitions;
    saved = [defs.$targetNamespace, client.wsdl.xmlnsInEnvelope];
    if (job.namespace !== undefined && job.namespace !== null) {
      defs.$targetNamespace = job.namespace;
      defs.xmlns.rpcns = job.namespace;
      client.wsdl.xmlnsInEnvelope += ` xmlns:rpcns="${job.namespace}"`;
    }
    client.setEndpoint(job.endpoint);
    client.clearSoapHeaders();
    for (const header of job.headers || []) {
      client.addSoapHeader(header);
    }
    const [result] = await methodOf(client, job)(job.args || {});
    return { kind: "answer", result: result === undefined ? null : result };
  } catch (err) {
    const fault = err && err.root && err.root.Envelope && err.root.Envelope.Body
      ? err.root.Envelope.Body.Fault
      : undefined;
    if (fault !== undefined) {
      return { kind: "fault", status: err.response ? err.response.status : null, fault };
    }
    return { kind: "error", message: String((err && err.message) || err) };
  } finally {
    if (client !== undefined) {
      [client.wsdl.definitions.$targetNamespace, client.wsdl.xmlnsInEnvelope] = saved;
      delete client.wsdl.definitions.xmlns.rpcns;
    }
  }
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const { jobs } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const results = [];
  for (const job of jobs) results.push(await run(job));
  process.stdout.write(JSON.stringify(results) + "\n");
}

main().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + "\n");
  process.exit(1);
});
