// Shared by `npm run gen:protocol` and the drift test (src/api/protocol.gen.test.ts):
// turns one of the backend's JSON Schemas (pydantic output) into TypeScript source.
import { compile } from 'json-schema-to-typescript';
import { banner, SCHEMAS } from './protocol-schemas.mjs';

const PROTOCOL = SCHEMAS[0];
export const BANNER = banner(PROTOCOL);

/**
 * Pydantic writes a `title` on every property ("Memoryused", "Type", "Error"),
 * which json-schema-to-typescript would turn into one alias per field (and an
 * `Error` type that shadows the global). Keep titles only on named definitions.
 * It also writes draft 2020-12 `prefixItems` for tuples, which the compiler
 * does not read: rewrite them to the draft-07 `items: [...]` form.
 */
export function prepareSchema(schema, root = PROTOCOL.root) {
  const copy = structuredClone(schema);
  const walk = (node, keepTitle) => {
    if (Array.isArray(node)) {
      node.forEach((child) => walk(child, false));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    if (!keepTitle) delete node.title;
    if (Array.isArray(node.prefixItems)) {
      node.items = node.prefixItems;
      node.additionalItems = false;
      delete node.prefixItems;
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === '$defs' || key === 'definitions') {
        for (const def of Object.values(value)) walk(def, true);
      } else if (key === 'properties') {
        for (const prop of Object.values(value)) walk(prop, false);
      } else {
        walk(value, false);
      }
    }
  };
  walk(copy, true);
  copy.title = root;
  return copy;
}

/** The types of `schema`; `entry` (from SCHEMAS) names its root type and the banner. */
export async function generateTypes(schema, entry = PROTOCOL) {
  return compile(prepareSchema(schema, entry.root), entry.root, {
    bannerComment: banner(entry),
    additionalProperties: false,
    unreachableDefinitions: false,
    format: true,
    style: { singleQuote: true, printWidth: 100 },
  });
}
