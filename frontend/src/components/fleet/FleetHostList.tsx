import { measureElement, useWindowVirtualizer } from '@tanstack/react-virtual';
import { useLayoutEffect, useRef, useState } from 'react';
import type { TemperatureThresholds } from '../../api/types';
import type { FleetHostView } from '../../api/view';
import { hostHeight } from '../../lib/fleet';
import { WindowedHostSection } from './FleetHostSection';

/** From this many hosts on, the list is windowed; below it every host is in the page (find in page reaches all). */
export const WINDOW_FROM = 25;
/** Room between two host sections, px (the list's gap-3). */
const GAP = 12;
/** Hosts kept drawn beyond each edge of the screen. */
const OVERSCAN = 1;

interface WindowedHostsProps {
  hosts: readonly FleetHostView[];
  thresholds: TemperatureThresholds;
  /** Seconds since the epoch, for a down host's "last sample … ago". */
  nowS: number;
}

/**
 * A large fleet's hosts, windowed: only the hosts on and near the screen are in
 * the page, each placed at its offset in a box as tall as the whole list (sizes
 * from the GPU count until drawn, then measured). Each placed host is its own
 * layer, so a host coming in or going out repaints nothing else; scrolling
 * 100 hosts costs about what scrolling 8 does. What is not drawn is still
 * found by the filter box, which the note for screen readers points to.
 */
export function WindowedHosts({ hosts, thresholds, nowS }: WindowedHostsProps) {
  const list = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  // Where the list starts in the page (the virtualizer's scroll margin): read before the first
  // paint (so the first hosts drawn are the right ones), then again when the page's size changes
  // rather than at each render (a read after a commit forces its layout).
  useLayoutEffect(() => {
    const el = list.current;
    if (el === null) return undefined;
    const read = () => setTop(Math.round(el.getBoundingClientRect().top + window.scrollY));
    read();
    if (typeof ResizeObserver === 'undefined') return undefined;
    const ro = new ResizeObserver(read);
    ro.observe(document.body);
    return () => ro.disconnect();
  }, []);
  // Rows are one line from 1024 px wide (Tailwind's lg), two below: the estimates follow.
  const narrow = typeof window !== 'undefined' && window.innerWidth < 1024;
  const v = useWindowVirtualizer({
    count: hosts.length,
    estimateSize: (i) => hostHeight(hosts[i]!, narrow),
    // Sizes come from the ResizeObserver, after the browser's own layout: a host just put in the
    // page keeps its estimate until then (measuring it at once would force that layout inside
    // React's commit). A host measured at 0 px is not laid out (a hidden page): its estimate too.
    measureElement: (el, entry, instance) => {
      const measured = entry ? measureElement(el, entry, instance) : 0;
      if (measured > 0) return measured;
      const i = instance.indexFromElement(el);
      return instance.measurementsCache[i]?.size ?? hostHeight(hosts[i]!, narrow);
    },
    getItemKey: (i) => hosts[i]!.key,
    gap: GAP,
    overscan: OVERSCAN,
    scrollMargin: top,
    // Hosts entering on scroll are rendered in React's normal time, not inside the scroll event.
    useFlushSync: false,
  });
  return (
    <>
      <p className="sr-only" data-testid="fleet-windowed-note">
        {`${hosts.length} host${hosts.length === 1 ? '' : 's'}: those near the screen are drawn as you scroll; the filter finds any host or GPU.`}
      </p>
      <div ref={list} className="relative" style={{ height: v.getTotalSize() }} data-testid="fleet-window">
        {v.getVirtualItems().map((item) => {
          const host = hosts[item.index]!;
          return (
            <div
              key={item.key}
              data-index={item.index}
              ref={v.measureElement}
              className="absolute top-0 left-0 w-full [contain:content]"
              style={{ transform: `translateY(${item.start - top}px)` }}
            >
              <WindowedHostSection host={host} thresholds={thresholds} nowS={host.state === 'up' ? 0 : nowS} />
            </div>
          );
        })}
      </div>
    </>
  );
}
