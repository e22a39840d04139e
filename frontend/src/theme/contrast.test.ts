// @vitest-environment node
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { contrast, hex, over, type RGB } from './contrast';

// The palette is read from the CSS that ships, so the test checks the real tokens.
const css = readFileSync(new URL('../index.css', import.meta.url), 'utf8');
const tokens = Object.fromEntries(
  [...css.matchAll(/--color-([a-z0-9-]+):\s*(#[0-9a-f]{6})\s*;/gi)].map((m) => [m[1]!, hex(m[2]!)]),
) as Record<string, RGB>;
const token = (name: string): RGB => {
  const value = tokens[name];
  if (!value) throw new Error(`--color-${name} is not in index.css`);
  return value;
};

const WHITE: RGB = [255, 255, 255];
const canvas = token('canvas');
const canvas2 = token('canvas-2');
// The lightest places text sits on: glass (7.5 % white at its top), a badge on glass
// (+3 %), glass over the violet orb (30 % violet), and the tinted chips and banners.
const glass = over(WHITE, 0.075, canvas2);
const badge = over(WHITE, 0.03, glass);
const orb = over(token('neon-violet'), 0.3, canvas);
const glassOnOrb = over(WHITE, 0.105, orb);
const surfaces: Record<string, RGB> = {
  canvas,
  'canvas-2': canvas2,
  glass,
  'badge on glass': badge,
  'glass on the violet orb': glassOnOrb,
  'hot banner': over(token('hot'), 0.09, glass),
  'warn banner': over(token('warn'), 0.1, glass),
  'ok chip': over(token('ok'), 0.1, glass),
  'hot chip': over(token('hot'), 0.15, glass),
  // The severity chips and finding cards (components/events/severityStyle.ts).
  'warn chip': over(token('warn'), 0.1, glass),
  'info chip': over(token('neon-cyan'), 0.1, glass),
  'critical finding card': over(token('hot'), 0.06, glass),
  'warning finding card': over(token('warn'), 0.04, glass),
};

const bodyText = ['ink', 'ink-2', 'ink-3', 'violet-ink', 'fuchsia-ink', 'cyan-ink', 'ok-ink', 'warn-ink', 'hot-ink', 'unknown-ink', 'replay-ink'];

// Stops of the gradient on the hero and badge numbers (utility text-gradient).
const gradientStops = [...(/@utility text-gradient \{[^}]*linear-gradient\(([^)]*)\)/.exec(css)?.[1] ?? '').matchAll(/#[0-9a-f]{6}/gi)].map((m) => hex(m[0]));

describe('palette contrast (WCAG AA)', () => {
  it('reads the tokens from index.css', () => {
    expect(Object.keys(tokens).length).toBeGreaterThan(15);
    expect(gradientStops).toHaveLength(3);
  });

  for (const name of bodyText) {
    for (const [surface, bg] of Object.entries(surfaces)) {
      it(`--color-${name} on ${surface} is at least 4.5:1`, () => {
        expect(contrast(token(name), bg)).toBeGreaterThanOrEqual(4.5);
      });
    }
  }

  it('keeps every stop of the number gradient at 3:1 or more (large text) on every surface', () => {
    for (const stop of gradientStops) {
      for (const bg of Object.values(surfaces)) expect(contrast(stop, bg)).toBeGreaterThanOrEqual(3);
    }
  });

  it('computes known ratios correctly', () => {
    expect(contrast([0, 0, 0], WHITE)).toBeCloseTo(21, 5);
    expect(contrast(hex('#777777'), WHITE)).toBeCloseTo(4.48, 2);
  });
});
