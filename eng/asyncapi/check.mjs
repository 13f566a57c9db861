// Checks docs/asyncapi.yaml: the AsyncAPI parser (with its built-in rules) must read it, and the
// schemas it refers to, without an error or a warning; every schema in docs/schema is some message's
// payload (event.json excepted: the union of the eight), the one its name says; and every message's
// examples match its schema, checked with Ajv, which also refuses a schema keyword it does not know
// (strictSchema).
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
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
  const schemas = new Map();
  for (const name of files) schemas.set(name, JSON.parse(await readFile(join(docs, "schema", name), "utf8")));
  for (const [name, schema] of schemas) ajv.addSchema(schema, name);
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
    // The examples are checked against the file the message's name says; its payload must be that
    // file too, not another one it refers to by mistake.
    if (!isDeepStrictEqual(withoutParserKeys(message.payload()?.json()?.schema), schemas.get(file))) {
      problems.push(`message ${message.name()}: its payload is not docs/schema/${file}`);
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

/** The schema as its file has it: without the x-parser-* annotations the parser adds to every node. */
function withoutParserKeys(node) {
  if (Array.isArray(node)) return node.map(withoutParserKeys);
  if (node === null || typeof node !== "object") return node;
  return Object.fromEntries(Object.entries(node).filter(([key]) => !key.startsWith("x-parser-")).map(([key, value]) => [key, withoutParserKeys(value)]));
}

if (!document || problems.length > 0) {
  console.error(problems.join("\n") || "docs/asyncapi.yaml could not be parsed.");
  process.exit(1);
}
