/**
 * The Fleet view, wired (fleet mode only: config.fleet). Live: the latest
 * fleet message from the stream (components/fleet/FleetLive). A past range:
 * GET /api/fleet/history (Prometheus range queries made by the server,
 * validated in src/api/fleetHistory.ts), one small chart per host. App.tsx
 * loads this module with React.lazy: the live single-host page never
 * downloads it.
 */
import { memo, useCallback } from 'react';
import { fleetStep } from './api/fleetHistory';
import type { TemperatureThresholds } from './api/types';
import type { FleetView } from './api/view';
import { FleetHistory } from './components/fleet/FleetHistory';
import { FleetLive } from './components/fleet/FleetLive';
import { useFleetHistory } from './hooks/useFleetHistory';
import { describeRange, rangeSearch, resolveRange, type TimeRange } from './lib/range';

export interface FleetPageProps {
  fleet: FleetView | null;
  range: TimeRange;
  thresholds: TemperatureThresholds;
}

function PastFleet({ range }: { range: TimeRange }) {
  const key = rangeSearch(range);
  const resolve = useCallback(() => {
    const span = resolveRange(range, Date.now());
    return span === null ? null : { ...span, step: fleetStep(span.to - span.from) };
  }, [range]);
  const history = useFleetHistory(key, resolve);
  return <FleetHistory history={history} onRetry={history.reload} rangeText={describeRange(range)} />;
}

function FleetPage({ fleet, range, thresholds }: FleetPageProps) {
  if (range.kind !== 'live') return <PastFleet range={range} />;
  return <FleetLive fleet={fleet} thresholds={thresholds} />;
}

export default memo(FleetPage);
