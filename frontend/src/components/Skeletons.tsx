/** Placeholders in the shape of the real page while the first sample is on its way. */
export function DashboardSkeleton({ cards = 2 }: { cards?: number }) {
  return (
    <div className="flex flex-col gap-5" aria-hidden="true" data-testid="skeleton">
      <div className="glass grid gap-6 rounded-3xl p-7 lg:grid-cols-[1fr_1.5fr]">
        <div className="flex items-center gap-7">
          <div className="skeleton hidden size-[132px] rounded-full! sm:block" />
          <div className="flex flex-1 flex-col gap-3">
            <div className="skeleton h-3 w-40" />
            <div className="skeleton h-16 w-44" />
            <div className="skeleton h-5 w-64 max-w-full" />
          </div>
        </div>
        <div className="grid grid-cols-2 gap-3 sm:grid-cols-3">
          {[0, 1, 2].map((i) => (
            <div key={i} className="skeleton h-28" />
          ))}
        </div>
      </div>
      <div className="glass skeleton h-20 rounded-2xl" />
      <div className="grid grid-cols-1 gap-5 md:grid-cols-2">
        {Array.from({ length: cards }, (_, i) => (
          <div key={i} className="glass flex flex-col gap-4 rounded-2xl p-5">
            <SkeletonCardHead />
            <div className="grid grid-cols-2 gap-2.5 @container">
              {[0, 1, 2, 3].map((j) => (
                <div key={j} className="skeleton h-24" />
              ))}
            </div>
            <div className="skeleton h-16" />
            <div className="skeleton h-20" />
          </div>
        ))}
      </div>
    </div>
  );
}

/** A GPU card's head while loading: the index badge, the name and the UUID. */
export function SkeletonCardHead() {
  return (
    <div className="flex items-center gap-3">
      <div className="skeleton size-10" />
      <div className="flex flex-col gap-2">
        <div className="skeleton h-4 w-40" />
        <div className="skeleton h-3 w-28" />
      </div>
    </div>
  );
}
