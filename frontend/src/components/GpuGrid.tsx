import { memo } from 'react';
import type { TemperatureThresholds } from '../api/types';
import type { GpuEntry } from '../api/view';
import { gridColumns } from '../lib/layout';
import { GpuCard } from './GpuCard';


interface GpuGridProps {
  gpus: readonly GpuEntry[];
  thresholds: TemperatureThresholds;
  busyUtilization: number;
}

function GpuGridImpl({ gpus, thresholds, busyUtilization }: GpuGridProps) {
  return (
    <section aria-label="GPUs">
      <h2 className="sr-only">GPUs</h2>
      <div className={`grid gap-4 lg:gap-5 ${gridColumns(gpus.length)}`} data-testid="gpu-grid">
        {gpus.map((entry, i) => (
          <GpuCard key={entry.key} entry={entry} thresholds={thresholds} busyUtilization={busyUtilization} index={i} />
        ))}
      </div>
    </section>
  );
}

export const GpuGrid = memo(GpuGridImpl);
