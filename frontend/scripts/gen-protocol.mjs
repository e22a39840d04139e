// npm run gen:protocol — regenerate everything the page derives from the committed schemas
// (the list is scripts/protocol-schemas.mjs), for each one:
//   src/api/<name>.gen.ts              TypeScript types (json-schema-to-typescript)
//   src/api/<name>.validate.gen.js     validators (Ajv standalone code), and
//   src/api/<name>.validate.gen.d.ts   their types.
// Today: protocol.schema.json (the /ws/gpu messages) and history.schema.json (GET /api/history).
// `npm run gen:schema` refreshes the schemas from the backend first.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SCHEMAS } from './protocol-schemas.mjs';
import { generateTypes } from './protocol-types.mjs';
import { generateValidators } from './protocol-validators.mjs';

const root = new URL('../src/api/', import.meta.url);
for (const entry of SCHEMAS) {
  const schema = JSON.parse(await readFile(new URL(entry.schema, root), 'utf8'));
  const { js, dts } = generateValidators(schema, entry);
  const outputs = {
    [entry.types]: await generateTypes(schema, entry),
    [`${entry.validators}.js`]: js,
    [`${entry.validators}.d.ts`]: dts,
  };
  for (const [name, text] of Object.entries(outputs)) {
    const out = fileURLToPath(new URL(name, root));
    await writeFile(out, text);
    console.log(`wrote ${out}`);
  }
}
