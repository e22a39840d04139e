/**
 * The usage view, wired: fetches the range's usage (validated, src/api/usage.ts)
 * grouped as chosen, and renders it (components/usage). App.tsx loads this
 * module with React.lazy, so it, its chart and the usage validator make a chunk
 * of their own that the live view never downloads.
 */
import { memo, useCallback, useState } from 'react';
import { usageUrl, type UsageBy } from './api/usage';
import { UsageView } from './components/usage/UsageView';
import { useUsage } from './hooks/useUsage';
import { rangeSearch, resolveRange, usageRange, type TimeRange } from './lib/range';

export interface UsagePageProps {
  /** The range in the top bar; live counts the last 24 hours. */
  range: TimeRange;
}

function UsagePage({ range }: UsagePageProps) {
  const [by, setBy] = useState<UsageBy>('user');
  const counted = usageRange(range);
  const key = `${rangeSearch(counted)}&by=${by}`;
  const resolve = useCallback(() => {
    const span = resolveRange(counted, Date.now());
    return span === null ? null : { ...span, by };
  }, [counted, by]);
  const usage = useUsage(key, resolve);
  // The download is the answer on screen, as the server answered it.
  const csvHref = usage.state === 'ok' ? usageUrl({ from: usage.data.from, to: usage.data.to, by: usage.data.by }, 'csv') : null;
  return <UsageView range={range} counted={counted} by={by} onBy={setBy} usage={usage} csvHref={csvHref} onRetry={usage.reload} />;
}

// Memoised: the live stream re-renders the page up to 5 times a second, the usage does not change with it.
export default memo(UsagePage);
