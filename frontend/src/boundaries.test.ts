// @vitest-environment node
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/** The import boundaries of eslint.config.js, checked on files that break them (and on ones that do not). */
describe('import boundaries (eslint.config.js)', () => {
  const eslint = new ESLint({ cwd: fileURLToPath(new URL('..', import.meta.url)) });

  const restricted = async (file: string, code: string): Promise<string[]> => {
    const [result] = await eslint.lintText(`${code}\nexport const x = 1;\n`, { filePath: file });
    return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
  };

  it.each([
    ['src/components/X.tsx', "import { gpuKey } from '../stream/model';\nvoid gpuKey;"],
    ['src/components/X.tsx', "import type { GpuStreamOptions } from '../stream/client';\nexport type T = GpuStreamOptions;"],
    ['src/components/X.tsx', "import { parseMessage } from '../api/parse';\nvoid parseMessage;"],
    ['src/lib/x.ts', "import { parseMessage } from '../api/parse';\nvoid parseMessage;"],
    ['src/lib/x.ts', "import type { GpuStreamOptions } from '../stream/client';\nexport type T = GpuStreamOptions;"],
    ['src/api/x.ts', "import { aggregate } from '../lib/aggregate';\nvoid aggregate;"],
    ['src/stream/x.ts', "import { GpuCard } from '../components/GpuCard';\nvoid GpuCard;"],
    ['src/hooks/x.ts', "import { GpuCard } from '../components/GpuCard';\nvoid GpuCard;"],
  ])('%s: %s is an error', async (file, code) => {
    expect(await restricted(file, code)).toHaveLength(1);
  });

  it.each([
    ['src/components/X.tsx', "import type { GpuEntry } from '../api/view';\nexport type T = GpuEntry;"],
    ['src/components/X.tsx', "import { aggregate } from '../lib/aggregate';\nvoid aggregate;"],
    ['src/lib/x.ts', "import type { Gpu } from '../api/types';\nexport type T = Gpu;"],
    ['src/stream/x.ts', "import { parseMessage } from '../api/parse';\nvoid parseMessage;"],
    ['src/stream/x.ts', "import { memoryShare } from '../lib/share';\nvoid memoryShare;"],
    ['src/App.tsx', "import { useGpuStream } from './stream/useGpuStream';\nvoid useGpuStream;"],
    ['src/components/X.test.tsx', "import { gpuKey } from '../stream/model';\nvoid gpuKey;"],
  ])('%s: %s is allowed', async (file, code) => {
    expect(await restricted(file, code)).toEqual([]);
  });
});
