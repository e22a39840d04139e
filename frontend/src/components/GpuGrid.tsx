import { memo } from 'react';
import type { TempThresholds } from '../lib/thresholds';
import type { GpuEntry } from '../api/view';
import { gridColumns } from '../lib/layout';
import { GpuCard } from './GpuCard';


function GpuGridImpl({ gpus, thresholds }: { gpus: readonly GpuEntry[]; thresholds: TempThresholds }) {
  return (
    <section aria-label="GPUs">
      <h2 className="sr-only">GPUs</h2>
      <div className={`grid gap-4 lg:gap-5 ${gridColumns(gpus.length)}`} data-testid="gpu-grid">
        {gpus.map((entry, i) => (
          <GpuCard key={entry.key} entry={entry} thresholds={thresholds} index={i} />
        ))}
      </div>
    </section>
  );
}

export const GpuGrid = memo(GpuGridImpl);
