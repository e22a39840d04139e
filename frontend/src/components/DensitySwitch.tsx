import { LayoutGrid, Rows3 } from 'lucide-react';
import { memo } from 'react';
import type { Density } from '../lib/density';
import { Segmented, type SegmentOption } from './ViewSwitch';

const OPTIONS: readonly SegmentOption<Density>[] = [
  { value: 'comfortable', label: 'Comfortable', title: 'One large card per GPU, with charts and processes', Icon: LayoutGrid },
  { value: 'compact', label: 'Compact', title: 'One row per GPU: every GPU on one screen', Icon: Rows3 },
];

interface DensitySwitchProps {
  density: Density;
  onChange: (density: Density) => void;
}

/** Comfortable · Compact, in the GPUs view's toolbar (the same keyboard and aria as the view switch). */
function DensitySwitchImpl({ density, onChange }: DensitySwitchProps) {
  return (
    <Segmented
      options={OPTIONS}
      value={density}
      onChange={onChange}
      label="Density"
      testId="density-switch"
      className="!w-auto"
      buttonClass="!h-8 !flex-none text-[0.8125rem]"
    />
  );
}

export const DensitySwitch = memo(DensitySwitchImpl);
