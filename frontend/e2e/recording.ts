/**
 * An N-GPU recording for the replay provider, made from the shipped 2-GPU
 * H100 demo (real NVML samples): GPU k plays demo GPU k % 2, shifted in time,
 * with its own uuid and bus id. Lets the real backend stream 8 GPUs.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { REPO } from './backend';

const DEMO = resolve(REPO, 'src/gpulens/data/demo-h100x2.jsonl.gz');

type Gpu = Record<string, unknown>;

export function writeMultiGpuRecording(path: string, count: number): string {
  const lines = gunzipSync(readFileSync(DEMO)).toString('utf8').trim().split('\n');
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  const frames = lines.slice(1).map((l) => JSON.parse(l) as { t: number; gpus: Gpu[] });
  const out = [
    JSON.stringify({ ...header, description: `${count} GPUs built from ${header.description as string}` }),
  ];
  frames.forEach((frame, i) => {
    const gpus = Array.from({ length: count }, (_, k) => {
      const base = frames[(i + k * 13) % frames.length]!.gpus[k % 2]!;
      const hex = (0x10 + k).toString(16);
      return {
        ...base,
        id: k,
        uuid: `GPU-${hex}c0ffee-0000-4000-8000-0000000000${hex}`,
        pciBusId: `00000000:${(0x18 + k * 0x10).toString(16).toUpperCase()}:00.0`,
      };
    });
    out.push(JSON.stringify({ t: frame.t, gpus }));
  });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, out.join('\n') + '\n');
  return path;
}
