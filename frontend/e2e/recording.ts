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

/** Process names a page must show as text, whole or as a path's last part. */
export const HOSTILE_NAMES = {
  condaPython: '/opt/conda/envs/very-long-environment-name-for-a-research-project/bin/python3.11',
  script: '<script>alert(1)</script>',
  img: '<img src=x onerror=alert(1)>',
  unbroken: 'u'.repeat(200),
  deepPath: `/${'deep-directory/'.repeat(14)}train_${'w'.repeat(24)}.py`.slice(0, 256),
  quoted: 'my job, "v2"',
} as const;

/** A long, unbroken driver error: it must wrap inside the card, not widen the page. */
export const LONG_ERROR = `NVML: GPU is lost (Xid 79) ${'E'.repeat(400)}`;

const process_ = (pid: number, name: string, usedMemoryMiB: number, user = 'alice') => ({
  pid,
  name,
  usedMemoryMiB,
  user,
  type: 'compute',
  smUtilization: null,
});

/**
 * The shipped demo as three GPUs: GPU 0 runs processes whose names are long
 * paths and markup (the first five shown, "+1 more"), GPU 1 failed with a very
 * long error, GPU 2 runs a few more odd and ordinary names.
 */
export function writeHostileRecording(path: string): string {
  const lines = gunzipSync(readFileSync(DEMO)).toString('utf8').trim().split('\n');
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  const first = Object.values(HOSTILE_NAMES).map((name, i) =>
    process_(4000 + i, name, 9000 - i * 1000, i === 2 ? 'a-very-long-user-name-from-ldap' : 'alice'),
  );
  const second = [
    process_(5001, HOSTILE_NAMES.quoted, 12000, 'bob'),
    process_(5002, '/usr/bin/python3.11', 8000, 'bob'),
    process_(5003, 'python3', 300, 'carol'),
  ];
  const keep = new Set(['id', 'name', 'uuid', 'pciBusId', 'driverVersion', 'cudaVersion']);
  const out = [JSON.stringify({ ...header, description: 'hostile process names and a failed GPU (browser tests)' })];
  for (const line of lines.slice(1)) {
    const frame = JSON.parse(line) as { t: number; gpus: Gpu[] };
    const [gpu0, gpu1] = frame.gpus;
    const failed = Object.fromEntries(Object.entries(gpu1!).map(([k, v]) => [k, keep.has(k) ? v : null]));
    out.push(
      JSON.stringify({
        t: frame.t,
        gpus: [
          { ...gpu0, processes: first },
          { ...failed, status: 'failed', error: LONG_ERROR, processes: [] },
          {
            ...gpu1,
            id: 2,
            uuid: 'GPU-2ac0ffee-0000-4000-8000-000000000002',
            pciBusId: '00000000:00:08.0',
            processes: second,
          },
        ],
      }),
    );
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, out.join('\n') + '\n');
  return path;
}
