// Generates test/generated/schema-types.ts: TypeScript types of the events, made from the JSON
// Schemas in docs/schema (themselves generated from the server's C# types), for
// schema-types.test.ts to compare with the hand-written uploadista-events.d.ts. Run by
// `npm run typecheck`; the generated file is not committed and not packed.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileFromFile } from "json-schema-to-typescript";

const here = dirname(fileURLToPath(import.meta.url));
const schemas = join(here, "..", "..", "..", "docs", "schema");

const types = await compileFromFile(join(schemas, "event.json"), {
  cwd: schemas,
  bannerComment: "// Generated from docs/schema by test/schema-types.mjs: do not edit.",
  declareExternallyReferenced: true,
  // A schema's own additionalProperties says whether it is closed; a type never gets an index
  // signature the schema did not ask for.
  additionalProperties: false,
  format: false,
});

await mkdir(join(here, "generated"), { recursive: true });
await writeFile(join(here, "generated", "schema-types.ts"), types);
