import { memo } from 'react';
import type { TemperatureThresholds } from '../api/types';
import type { GpuEntry } from '../api/view';
import type { Density } from '../lib/density';
import { gridColumns } from '../lib/layout';
import { gpuState, ownerOf } from '../lib/rows';
import { tempLevel } from '../lib/thresholds';
import { DensitySwitch } from './DensitySwitch';
import { GpuCard } from './GpuCard';
import { GpuRow, GpuRowHeader } from './GpuRow';

interface GpuGridProps {
  gpus: readonly GpuEntry[];
  thresholds: TemperatureThresholds;
  busyUtilization: number;
  /** Cards (comfortable, the default) or one row per GPU (compact). */
  density?: Density;
  /** No toolbar without it. */
  onDensityChange?: (density: Density) => void;
}

interface EntryRowProps {
  entry: GpuEntry;
  thresholds: TemperatureThresholds;
  busyUtilization: number;
}

/** A live GPU as a compact row: re-rendered only when its sample (or history) changed. */
const EntryRow = memo(function EntryRow({ entry, thresholds, busyUtilization }: EntryRowProps) {
  const { gpu, history } = entry;
  return (
    <GpuRow
      index={gpu.id}
      name={gpu.name}
      utilization={gpu.utilization}
      memory={{ used: gpu.memoryUsed, total: gpu.memoryTotal }}
      temperature={{ value: gpu.temperature, level: tempLevel(gpu, thresholds) }}
      power={{ usage: gpu.powerUsage, limit: gpu.powerLimit }}
      state={gpuState(gpu, thresholds, busyUtilization)}
      owner={ownerOf(gpu.processes)}
      history={history}
      reason={gpu.status === 'failed' ? (gpu.error ?? 'The driver reported an error for this GPU.') : null}
    />
  );
});

function GpuGridImpl({ gpus, thresholds, busyUtilization, density = 'comfortable', onDensityChange }: GpuGridProps) {
  const compact = density === 'compact';
  return (
    <section aria-label="GPUs" data-density={density}>
      <div className={`flex items-center justify-between gap-3 ${onDensityChange ? 'mb-1' : ''}`}>
        <h2 className={onDensityChange ? 'label' : 'sr-only'}>
          GPUs <span className="num normal-case tracking-normal">· {gpus.length}</span>
        </h2>
        {onDensityChange && <DensitySwitch density={density} onChange={onDensityChange} />}
      </div>
      {compact ? (
        <>
          <GpuRowHeader spark />
          <ul className="flex flex-col gap-1" data-testid="gpu-rows" aria-label="GPUs, one row each">
            {gpus.map((entry) => (
              <EntryRow key={entry.key} entry={entry} thresholds={thresholds} busyUtilization={busyUtilization} />
            ))}
          </ul>
        </>
      ) : (
        <div className={`grid gap-4 lg:gap-5 ${gridColumns(gpus.length)}`} data-testid="gpu-grid">
          {gpus.map((entry, i) => (
            <GpuCard key={entry.key} entry={entry} thresholds={thresholds} busyUtilization={busyUtilization} index={i} />
          ))}
        </div>
      )}
    </section>
  );
}

export const GpuGrid = memo(GpuGridImpl);
