// npm run gen:protocol — regenerate everything the page derives from the committed schema:
//   src/api/protocol.gen.ts              TypeScript types (json-schema-to-typescript)
//   src/api/protocol.validate.gen.js     validators (Ajv standalone code), and
//   src/api/protocol.validate.gen.d.ts   their types.
// `npm run gen:schema` refreshes the schema from the backend first.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { generateTypes } from './protocol-types.mjs';
import { generateValidators } from './protocol-validators.mjs';

const root = new URL('../src/api/', import.meta.url);
const schema = JSON.parse(await readFile(new URL('protocol.schema.json', root), 'utf8'));
const { js, dts } = generateValidators(schema);
const outputs = {
  'protocol.gen.ts': await generateTypes(schema),
  'protocol.validate.gen.js': js,
  'protocol.validate.gen.d.ts': dts,
};
for (const [name, text] of Object.entries(outputs)) {
  const out = fileURLToPath(new URL(name, root));
  await writeFile(out, text);
  console.log(`wrote ${out}`);
}
