// npm run gen:types — regenerate src/api/protocol.gen.ts from the committed schema.
// Refresh the schema first with: ../.venv/bin/gpulens schema --all > src/api/protocol.schema.json
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { generateTypes } from './protocol-types.mjs';

const root = new URL('../src/api/', import.meta.url);
const schema = JSON.parse(await readFile(new URL('protocol.schema.json', root), 'utf8'));
const out = fileURLToPath(new URL('protocol.gen.ts', root));
await writeFile(out, await generateTypes(schema));
console.log(`wrote ${out}`);
