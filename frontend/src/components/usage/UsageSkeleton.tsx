/**
 * Placeholders in the shape of the usage view (numbers, a chart, a table)
 * while its code or its answer is on the way. Small and static: App shows it
 * while the usage chunk loads.
 */
export function UsageSkeleton({ toolbar = true }: { toolbar?: boolean }) {
  return (
    <div className="flex flex-col gap-4 lg:gap-5" aria-hidden="true" data-testid="usage-skeleton">
      {toolbar && (
        <div className="glass flex flex-wrap items-center justify-between gap-3 rounded-2xl p-4">
          <div className="flex flex-col gap-2">
            <div className="skeleton h-5 w-56 max-w-full" />
            <div className="skeleton h-3.5 w-72 max-w-full" />
          </div>
          <div className="skeleton h-9 w-80 max-w-full" />
        </div>
      )}
      <div className="grid grid-cols-2 gap-3 lg:grid-cols-4 lg:gap-4">
        {[0, 1, 2, 3].map((i) => (
          <div key={i} className="glass flex flex-col gap-3 rounded-2xl p-5">
            <div className="skeleton h-3 w-24" />
            <div className="skeleton h-12 w-32 max-w-full" />
          </div>
        ))}
      </div>
      <div className="glass grid gap-5 rounded-2xl p-5 md:grid-cols-2">
        {[0, 1].map((i) => (
          <div key={i} className="flex flex-col gap-2">
            <div className="skeleton h-3 w-28" />
            {[0, 1, 2, 3, 4, 5].map((j) => (
              <div key={j} className="skeleton h-5" style={{ width: `${90 - j * 13}%` }} />
            ))}
          </div>
        ))}
      </div>
      <div className="glass flex flex-col gap-2 rounded-2xl p-5">
        {[0, 1, 2, 3, 4, 5, 6].map((i) => (
          <div key={i} className="skeleton h-7" />
        ))}
      </div>
    </div>
  );
}
