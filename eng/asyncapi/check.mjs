// Checks docs/asyncapi.yaml: the AsyncAPI parser (with its built-in rules) must read it, and the
// schemas it refers to, without an error or a warning; every schema in docs/schema is some message's
// payload (event.json excepted: the union of the eight); and every message's examples match its
// schema, checked with Ajv, which also refuses a schema keyword it does not know (strictSchema).
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DiagnosticSeverity, Parser, fromFile } from "@asyncapi/parser";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const docs = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs");
const problems = [];

const { document, diagnostics } = await fromFile(new Parser(), join(docs, "asyncapi.yaml")).parse();
for (const diagnostic of diagnostics) {
  const line = `${DiagnosticSeverity[diagnostic.severity]} ${diagnostic.code}: ${diagnostic.message} (at ${diagnostic.path.join(".")})`;
  if (diagnostic.severity <= DiagnosticSeverity.Warning) problems.push(line);
  else console.log(line);
}

if (document) {
  // Ajv's own defaults: a keyword it does not know is an error (strictSchema); its style hints
  // (strictTypes, strictTuples) are not the contract's business.
  const ajv = new Ajv({ allErrors: true, strictTypes: false, strictTuples: false });
  addFormats(ajv);
  const files = (await readdir(join(docs, "schema"))).filter((name) => name.endsWith(".json")).sort();
  for (const name of files) ajv.addSchema(JSON.parse(await readFile(join(docs, "schema", name), "utf8")), name);
  const validators = new Map();
  for (const name of files) {
    try {
      validators.set(name, ajv.getSchema(name));
    } catch (error) {
      problems.push(`docs/schema/${name}: ${error.message}`);
    }
  }

  const payloads = new Set();
  for (const message of document.messages().all()) {
    // Each message is named as its type on the wire, and its schema is the file of that name.
    const file = `${message.name()}.json`;
    payloads.add(file);
    const validate = validators.get(file);
    if (!validate) {
      problems.push(`message ${message.name()}: no docs/schema/${file}`);
      continue;
    }
    const examples = message.examples().all();
    if (examples.length === 0) problems.push(`message ${message.name()}: no example`);
    for (const example of examples) {
      if (!validate(example.payload())) {
        problems.push(`message ${message.name()}: example ${JSON.stringify(example.payload())} does not match ${file}: ${ajv.errorsText(validate.errors)}`);
      }
    }
  }
  for (const file of files.filter((name) => name !== "event.json" && !payloads.has(name))) {
    problems.push(`docs/schema/${file} is no message's payload in docs/asyncapi.yaml`);
  }
  console.log(`docs/asyncapi.yaml: AsyncAPI ${document.version()}, ${document.channels().all().length} channels, ${document.operations().all().length} operations, ${document.messages().all().length} messages, ${files.length} schemas.`);
}

if (!document || problems.length > 0) {
  console.error(problems.join("\n") || "docs/asyncapi.yaml could not be parsed.");
  process.exit(1);
}
