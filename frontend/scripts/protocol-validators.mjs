// Shared by `npm run gen:protocol` and the drift test (src/api/protocol.validate.test.ts):
// compiles the backend's JSON Schema (pydantic output, draft 2020-12) into
// validation code ahead of time with Ajv's standalone mode. The page imports
// the generated module as plain JavaScript: no Ajv, no eval or `new Function`
// at run time, so it works under `script-src 'self'`.
import Ajv2020 from 'ajv/dist/2020.js';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { banner, SCHEMAS } from './protocol-schemas.mjs';

const PROTOCOL = SCHEMAS[0];
const HOW = 'with Ajv standalone code generation';
export const BANNER = banner(PROTOCOL, HOW);

/** Keywords that constrain one JSON type only, so they mean the same next to `type: [T, "null"]`. */
const TYPE_SPECIFIC = new Set([
  'type',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'uniqueItems',
  'properties',
  'required',
  'additionalProperties',
  'minProperties',
  'maxProperties',
]);

/** `{anyOf: [{type: T, ...}, {type: "null"}]}` as `{type: [T, "null"], ...}`, or null when that would change the meaning. */
function nullableAsTypeList(anyOf) {
  if (!Array.isArray(anyOf) || anyOf.length !== 2) return null;
  const [value, nul] = anyOf;
  if (JSON.stringify(nul) !== '{"type":"null"}' || typeof value?.type !== 'string') return null;
  const keys = Object.keys(value).filter((k) => k !== 'enum');
  if (!keys.every((k) => TYPE_SPECIFIC.has(k))) return null;
  const out = { ...value, type: [value.type, 'null'] };
  if (Array.isArray(value.enum)) out.enum = [...value.enum, null];
  return out;
}

/**
 * The schema as the validators are compiled from it. Same verdicts as the
 * schema itself (the drift test compares them), three changes:
 * - `title` and `description` go: annotations, they only add bytes;
 * - pydantic's `anyOf: [{type: T, …}, {type: "null"}]` becomes
 *   `type: [T, "null"]`: Ajv then checks a nullable field with one test
 *   instead of two branches that allocate an error for the one that fails;
 * - a property that is neither required nor has a `default` gets an empty
 *   one: pydantic leaves out `default_factory` (list, dict) defaults. Such a
 *   property must be an array or an object, else this throws.
 * With `useDefaults` every optional field is then filled in, as src/api/types.ts
 * promises the components.
 */
export function prepareValidationSchema(schema) {
  const walk = (node) => {
    if (Array.isArray(node)) return node.map(walk);
    if (node === null || typeof node !== 'object') return node;
    let out = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === 'title' || key === 'description') continue;
      out[key] =
        key === 'properties' || key === '$defs'
          ? Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, walk(sub)]))
          : walk(value);
    }
    const nullable = nullableAsTypeList(out.anyOf);
    if (nullable !== null) {
      delete out.anyOf;
      out = { ...out, ...nullable };
    }
    if (out.properties !== undefined) {
      const required = new Set(out.required ?? []);
      for (const [name, prop] of Object.entries(out.properties)) {
        if (required.has(name) || 'default' in prop) continue;
        const target = prop.$ref === undefined ? prop : null;
        if (target?.type === 'array') prop.default = [];
        else if (target?.type === 'object') prop.default = {};
        else {
          throw new Error(
            `property ${name} is optional without a default and is not an array or object: ` +
              'the page cannot tell what a missing value means (give it a default in the pydantic model)',
          );
        }
      }
    }
    return out;
  };
  return walk(schema);
}

/** `{telemetry: "Telemetry", hello: "Hello", gpuAdded: "GpuChange", …}`: the server message definitions, by `type`. */
export function messageTypes(schema) {
  const byType = {};
  for (const branch of schema.anyOf ?? []) {
    const name = /^#\/\$defs\/(\w+)$/.exec(branch.$ref ?? '')?.[1];
    const kind = name === undefined ? undefined : schema.$defs[name]?.properties?.type;
    const values = kind?.enum ?? (kind?.const === undefined ? [] : [kind.const]);
    if (values.length === 0) throw new Error(`message ${JSON.stringify(branch)} has no "type" to dispatch on`);
    for (const value of values) byType[value] = name;
  }
  return byType;
}

const propertyKey = (key) => (/^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key));

/**
 * The validator module (JavaScript) and its type declarations. `entry` (from
 * SCHEMAS) says what to export: for the WebSocket protocol (`dispatch: 'type'`)
 * one validator per message definition and the `validators` table by `type`;
 * for any other schema one validator for the whole document, named `entry.root`.
 */
export function generateValidators(schema, entry = PROTOCOL) {
  const prepared = prepareValidationSchema(schema);
  const byType = entry.dispatch === 'type' ? messageTypes(schema) : null;
  const names = byType === null ? [entry.root] : [...new Set(Object.values(byType))];
  const ajv = new Ajv2020({
    code: { source: true, esm: true, lines: true, optimize: true },
    strict: true,
    allowUnionTypes: true,
    useDefaults: true,
    // Fields the page does not know yet (a newer backend) are dropped, as the
    // hand-written parser did; every field it knows is checked.
    removeAdditional: true,
    allErrors: false,
    inlineRefs: false,
  });
  if (byType === null) {
    ajv.addSchema({ ...prepared, $id: 'document' });
  } else {
    ajv.addSchema({ $id: 'protocol', $defs: prepared.$defs });
  }
  const source = standaloneCode(
    ajv,
    byType === null
      ? { [entry.root]: 'document' }
      : Object.fromEntries(names.map((n) => [n, `protocol#/$defs/${n}`])),
  );
  // A keyword whose check lives in an Ajv runtime helper (e.g. maxLength on a
  // string) makes Ajv emit `require("ajv/dist/runtime/…")`, which neither
  // the browser nor this ESM module can run.
  const helper = /require\(["']([^"']+)["']\)/.exec(source);
  if (helper !== null) {
    throw new Error(`the schema needs Ajv's runtime helper ${helper[1]}: make the generator import it`);
  }
  const head = banner(entry, HOW);
  const code = `${head}\n${source.replace(/^"use strict";\n?/, '')}\n`;
  const table =
    byType === null
      ? ''
      : `\n/** The validator for each server message \`type\`. */\nexport const validators = {\n${Object.entries(byType)
          .map(([type, name]) => `  ${propertyKey(type)}: ${name},`)
          .join('\n')}\n};\n`;
  const js = byType === null ? code : `${code}${table}`;
  const dts = [
    head,
    `import type * as Wire from './${entry.types.replace(/\.ts$/, '')}';`,
    '',
    'export interface ValidationError {',
    '  instancePath: string;',
    '  schemaPath: string;',
    '  keyword: string;',
    '  params: Record<string, unknown>;',
    '  message?: string;',
    '}',
    '',
    '/**',
    ' * Checks a parsed message against the schema. On success it has also filled',
    ' * every optional field the message left out (its default, [] or {}) and',
    ' * dropped fields the schema does not list. On failure `errors` says why.',
    ' */',
    'export interface Validator<T> {',
    '  (data: unknown): data is T;',
    '  errors?: ValidationError[] | null;',
    '}',
    '',
    ...names.map((n) => `export declare const ${n}: Validator<Wire.${n}>;`),
    '',
    ...(byType === null
      ? []
      : [
          '/** The validator for each server message `type`. */',
          'export declare const validators: {',
          ...Object.entries(byType).map(([type, name]) => `  ${propertyKey(type)}: Validator<Wire.${name}>;`),
          '};',
          '',
        ]),
  ].join('\n');
  return { js, dts };
}
