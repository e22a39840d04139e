// @vitest-environment node
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
// Same code as `npm run gen:protocol`, so the check and the generator cannot drift apart.
import { SCHEMAS } from '../../scripts/protocol-schemas.mjs';
import { generateValidators, messageTypes, prepareValidationSchema } from '../../scripts/protocol-validators.mjs';
import historyGap from '../test/fixtures/history-gap.json';
import { helloMsg, rawNoSource, rawNvtop, rawReplay, telemetryMsg } from '../test/payloads';
import { HistoryResponse } from './history.validate.gen';
import { validators } from './protocol.validate.gen';

type Json = Record<string, unknown>;

const read = (name: string) => readFileSync(new URL(name, import.meta.url), 'utf8');
const schema = JSON.parse(read('./protocol.schema.json')) as { $defs: Record<string, unknown> };

describe.each(SCHEMAS)('$validators.js', (entry) => {
  it('is exactly what the generator makes of $schema', () => {
    const fresh = generateValidators(JSON.parse(read(`./${entry.schema}`)), entry);
    // If this fails: npm run gen:protocol, and commit the result.
    expect(read(`./${entry.validators}.js`)).toBe(fresh.js);
    expect(read(`./${entry.validators}.d.ts`)).toBe(fresh.dts);
  });

  it('is plain code the page can run under script-src \'self\': no eval, no imports', () => {
    const js = read(`./${entry.validators}.js`);
    expect(js).not.toMatch(/\beval\s*\(|new Function|\brequire\s*\(|^\s*import\b/m);
  });
});

describe('protocol.validate.gen.js', () => {
  it('has a validator for every server message type', () => {
    expect(Object.keys(validators).sort()).toEqual(
      ['error', 'event', 'findings', 'fleet', 'gpuAdded', 'gpuRemoved', 'heartbeat', 'hello', 'status', 'telemetry'],
    );
    expect(messageTypes(schema)).toMatchObject({ gpuAdded: 'GpuChange', gpuRemoved: 'GpuChange' });
  });
});

const replacements: unknown[] = [null, -1, 0, 1.5, 33, 101, 1e6, 'x', 'ok', true, [], {}, [1, 2, 3]];

/** Every message with one value replaced or removed, at every path. */
function* mutations(message: Json): Generator<Json> {
  const paths: (string | number)[][] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    if (Array.isArray(node)) node.slice(0, 2).forEach((child, i) => walk(child, [...path, i]));
    else if (node !== null && typeof node === 'object') {
      for (const [key, child] of Object.entries(node)) walk(child, [...path, key]);
    }
    if (path.length > 0) paths.push(path);
  };
  walk(message, []);
  for (const path of paths) {
    for (const value of [...replacements, undefined]) {
      const copy = structuredClone(message);
      let parent = copy as Record<string | number, unknown>;
      for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
      const last = path[path.length - 1]!;
      if (value === undefined && !Array.isArray(parent)) Reflect.deleteProperty(parent, last);
      else parent[last] = value;
      yield copy;
    }
  }
}

/**
 * The generator rewrites the schema a little (see prepareValidationSchema).
 * Here Ajv compiles the schema exactly as the backend wrote it, and both must
 * agree on every message of a corpus: the real captures and thousands of
 * one-field mutations of them (wrong type, null, out of range, missing).
 */
describe('the generated validators judge like the schema itself', () => {
  const reference = new Ajv2020({ allowUnionTypes: true, removeAdditional: true, strictTuples: false });
  reference.addSchema({ $id: 'protocol', $defs: schema.$defs });
  const ts = '2026-11-28T04:00:00.000Z';
  const corpus: Json[] = [
    rawReplay(),
    rawNvtop(),
    rawNoSource(),
    helloMsg([telemetryMsg(1), { ...rawNvtop(), seq: 2 }]),
    { type: 'gpuAdded', seq: 5, timestamp: ts, uuid: 'GPU-1', id: 2, name: 'H100' },
    { type: 'status', timestamp: ts, status: { state: 'degraded', provider: 'nvml', reason: 'slow', unavailable: { nvml: 'x' } } },
    { type: 'heartbeat', timestamp: ts, seq: 4 },
    { type: 'error', code: 'closed', message: 'bye' },
  ];
  it('on the real captures and every one-field mutation of them', () => {
    const byType = messageTypes(schema);
    let checked = 0;
    let rejected = 0;
    for (const message of corpus) {
      for (const candidate of [message, ...mutations(message)]) {
        const type = String(candidate.type);
        const name = byType[type];
        if (name === undefined) continue; // the `type` itself was mutated: parse.ts rejects it before any validator
        const expected = reference.getSchema(`protocol#/$defs/${name}`)!(structuredClone(candidate));
        const actual = validators[type as keyof typeof validators](structuredClone(candidate));
        if (actual !== expected) throw new Error(`${JSON.stringify(candidate)}: schema says ${expected}, generated says ${actual}`);
        checked += 1;
        if (!actual) rejected += 1;
      }
    }
    expect(checked).toBeGreaterThan(4000);
    expect(rejected).toBeGreaterThan(checked / 2);
  });
});

describe('history.validate.gen.js judges like history.schema.json itself', () => {
  const historySchema = JSON.parse(read('./history.schema.json')) as Json;
  const reference = new Ajv2020({ allowUnionTypes: true, removeAdditional: true, strictTuples: false });
  const judge = reference.compile(historySchema);

  it('on a real answer (two GPUs, the host, a gap) and every one-field mutation of it', () => {
    let checked = 0;
    let rejected = 0;
    for (const candidate of [historyGap as Json, ...mutations(historyGap as Json)]) {
      const expected = judge(structuredClone(candidate));
      const actual = HistoryResponse(structuredClone(candidate));
      if (actual !== expected) throw new Error(`${JSON.stringify(candidate)}: schema says ${expected}, generated says ${actual}`);
      checked += 1;
      if (!actual) rejected += 1;
    }
    expect(HistoryResponse(structuredClone(historyGap))).toBe(true);
    expect(checked).toBeGreaterThan(2000);
    expect(rejected).toBeGreaterThan(checked / 2);
  });
});

describe('prepareValidationSchema', () => {
  const prepare = (properties: Json, required: string[] = []) =>
    (prepareValidationSchema({ type: 'object', properties, required }) as { properties: Json }).properties;

  it('turns a nullable into a type list only where that keeps the meaning', () => {
    const out = prepare({
      a: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'null' }], default: null, title: 'A' },
      b: { anyOf: [{ type: 'string', enum: ['x'] }, { type: 'null' }], default: null },
      c: { anyOf: [{ $ref: '#/$defs/C' }, { type: 'null' }], default: null },
      d: { anyOf: [{ type: 'string', const: 'x' }, { type: 'null' }], default: null },
    });
    expect(out.a).toEqual({ type: ['integer', 'null'], minimum: 0, default: null });
    expect(out.b).toEqual({ type: ['string', 'null'], enum: ['x', null], default: null });
    expect(out.c).toEqual({ anyOf: [{ $ref: '#/$defs/C' }, { type: 'null' }], default: null });
    expect(out.d).toEqual({ anyOf: [{ type: 'string', const: 'x' }, { type: 'null' }], default: null });
  });

  it('gives optional lists and maps an empty default, and refuses to guess for anything else', () => {
    const out = prepare({ list: { type: 'array' }, map: { type: 'object' }, id: { type: 'integer' } }, ['id']);
    expect(out.list).toEqual({ type: 'array', default: [] });
    expect(out.map).toEqual({ type: 'object', default: {} });
    expect(() => prepare({ count: { type: 'integer' } })).toThrow(/count is optional without a default/);
  });
});
