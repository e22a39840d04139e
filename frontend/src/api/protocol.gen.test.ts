// @vitest-environment node
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// Same code and the same list as `npm run gen:protocol`, so the check and the generator cannot drift apart.
import { SCHEMAS } from '../../scripts/protocol-schemas.mjs';
import { generateTypes } from '../../scripts/protocol-types.mjs';

const read = (name: string) => readFileSync(new URL(name, import.meta.url), 'utf8');

describe.each(SCHEMAS)('$types', (entry) => {
  it(`is exactly what json-schema-to-typescript makes of $schema`, async () => {
    const schema: unknown = JSON.parse(read(`./${entry.schema}`));
    const fresh = await generateTypes(schema, entry);
    // If this fails: npm run gen:protocol, and commit the result.
    expect(read(`./${entry.types}`)).toBe(fresh);
  });
});

describe('the generated types', () => {
  it('cover every server message type', () => {
    const generated = read('./protocol.gen.ts');
    for (const name of ['Telemetry', 'Hello', 'GpuChange', 'Status', 'Heartbeat', 'ErrorMessage', 'Fleet']) {
      expect(generated).toContain(`export interface ${name} {`);
    }
  });

  it('cover the history response and its parts', () => {
    const generated = read('./history.gen.ts');
    for (const name of ['HistoryResponse', 'HistoryState', 'HistorySeries', 'Stats']) {
      expect(generated).toContain(`export interface ${name} {`);
    }
  });

  it('the generator knows every committed schema', () => {
    const committed = [
      'events.schema.json',
      'fleet.schema.json',
      'history.schema.json',
      'protocol.schema.json',
      'usage.schema.json',
    ];
    expect(SCHEMAS.map((s) => s.schema).sort()).toEqual(committed);
  });
});
