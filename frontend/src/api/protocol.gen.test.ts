// @vitest-environment node
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// Same code as `npm run gen:protocol`, so the check and the generator cannot drift apart.
import { generateTypes } from '../../scripts/protocol-types.mjs';

const read = (name: string) => readFileSync(new URL(name, import.meta.url), 'utf8');

describe('protocol.gen.ts', () => {
  it('is exactly what json-schema-to-typescript makes of protocol.schema.json', async () => {
    const schema: unknown = JSON.parse(read('./protocol.schema.json'));
    const fresh = await generateTypes(schema);
    // If this fails: npm run gen:protocol, and commit the result.
    expect(read('./protocol.gen.ts')).toBe(fresh);
  });

  it('covers every server message type', () => {
    const generated = read('./protocol.gen.ts');
    for (const name of ['Telemetry', 'Hello', 'GpuChange', 'Status', 'Heartbeat', 'ErrorMessage']) {
      expect(generated).toContain(`export interface ${name} {`);
    }
  });
});
