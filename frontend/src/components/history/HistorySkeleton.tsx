import { SkeletonCardHead } from '../Skeletons';
import { gridColumns } from '../../lib/layout';

/**
 * Placeholders in the shape of the past view (a toolbar, then one card of four
 * charts per GPU) while its code or its answer is on the way. Part of the live
 * view's bundle: it is the fallback while the history chunk loads.
 */
export function HistorySkeleton({ cards = 2 }: { cards?: number }) {
  return (
    <div className="flex flex-col gap-4" data-testid="history-skeleton">
      <div className="glass flex flex-wrap items-center justify-between gap-3 rounded-2xl p-4" aria-hidden="true">
        <div className="flex flex-col gap-2">
          <div className="skeleton h-5 w-56 max-w-full" />
          <div className="skeleton h-3.5 w-72 max-w-full" />
        </div>
        <div className="skeleton h-9 w-32" />
      </div>
      <div className={`grid gap-4 lg:gap-5 ${gridColumns(cards)}`} aria-hidden="true">
        {Array.from({ length: cards }, (_, i) => (
          <div key={i} className="glass @container flex flex-col gap-4 rounded-2xl p-4 sm:p-5">
            <SkeletonCardHead />
            <div className="grid grid-cols-1 gap-4 @[34rem]:grid-cols-2">
              {[0, 1, 2, 3].map((j) => (
                <div key={j} className="flex flex-col gap-2">
                  <div className="skeleton h-3 w-24" />
                  <div className="skeleton h-[150px]" />
                </div>
              ))}
            </div>
          </div>
        ))}
      </div>
    </div>
  );
}
