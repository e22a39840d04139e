import type { Gpu, Process, TemperatureThresholds } from '../api/types';
import { processBaseName, topProcesses } from './processes';
import { isBusy, tempLevel, type TempLevel } from './thresholds';

/** What a GPU is doing, in one word (the compact row's state). */
export type GpuState = 'busy' | 'idle' | 'hot' | 'failed';

/** Failed first, then hot (by the GPU's own or the configured threshold), then busy, else idle. */
export function gpuState(gpu: Gpu, thresholds: TemperatureThresholds, busyUtilization: number): GpuState {
  if (gpu.status === 'failed') return 'failed';
  if (tempLevel(gpu, thresholds) === 'hot') return 'hot';
  return isBusy(gpu, busyUtilization) ? 'busy' : 'idle';
}

export interface Owner {
  user: string | null;
  process: string;
  others: number;
}

/** The user and process holding the most GPU memory (and how many others run beside it); null = none. */
export function ownerOf(processes: readonly Process[]): Owner | null {
  const { shown, more } = topProcesses(processes, 1);
  const top = shown[0];
  if (top === undefined) return null;
  return { user: top.user, process: top.name === null ? 'unnamed process' : processBaseName(top.name), others: more };
}

export interface RowTemperature {
  value: number | null;
  level: TempLevel;
}
