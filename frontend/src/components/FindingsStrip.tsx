import { ArrowRight, ChevronDown, Clock, Cpu, User } from 'lucide-react';
import { AnimatePresence, m, useReducedMotion } from 'motion/react';
import { memo, useId, useMemo, useState } from 'react';
import type { Event as LensEvent } from '../api/types';
import { useNow } from '../hooks/useNow';
import { bySeverity, eventGpu, eventTitle, eventWho, relativeTime, SEVERITY_LABEL, startMs } from '../lib/events';
import { SeverityBadge } from './events/SeverityBadge';
import { SEVERITY_STYLE } from './events/severityStyle';

/** Cards shown before the rest fold into "N more". */
export const FINDINGS_SHOWN = 3;

export interface FindingsStripProps {
  /** The active findings (the stream's `findings`); empty = all well, and nothing is shown. */
  findings: readonly LensEvent[];
}

const since = (f: LensEvent, now: number) => relativeTime(startMs(f), now);

function FindingCard({ finding, now }: { finding: LensEvent; now: number }) {
  const gpu = eventGpu(finding);
  const who = eventWho(finding);
  const titleId = useId();
  const style = SEVERITY_STYLE[finding.severity];
  return (
    <article
      aria-labelledby={titleId}
      className={`glass flex h-full min-w-0 flex-col gap-2 rounded-2xl p-4 sm:p-5 ${style.card}`}
      data-testid="finding-card"
      data-severity={finding.severity}
      data-kind={finding.kind}
    >
      <div className="flex flex-wrap items-center justify-between gap-2">
        <SeverityBadge severity={finding.severity} />
        <span className="num inline-flex items-center gap-1.5 text-sm text-ink-2">
          <Clock size={14} aria-hidden="true" />
          <span>
            since{' '}
            <time dateTime={finding.start} title={new Date(startMs(finding)).toLocaleString()}>
              {since(finding, now)}
            </time>
          </span>
        </span>
      </div>
      <h3 id={titleId} className="font-display text-2xl font-semibold leading-tight tracking-tight text-ink wrap-anywhere sm:text-[1.75rem]">
        {eventTitle(finding)}
      </h3>
      {(gpu !== null || who.length > 0) && (
        <dl className="flex flex-col gap-1 text-sm text-ink-2">
          {gpu !== null && (
            <div className="flex min-w-0 items-center gap-1.5">
              <dt>
                <Cpu size={14} aria-hidden="true" />
                <span className="sr-only">GPU</span>
              </dt>
              <dd className="min-w-0 font-medium text-ink wrap-anywhere">{gpu}</dd>
            </div>
          )}
          {who.length > 0 && (
            <div className="flex min-w-0 items-center gap-1.5">
              <dt>
                <User size={14} aria-hidden="true" />
                <span className="sr-only">Who</span>
              </dt>
              <dd className="num min-w-0 wrap-anywhere">{who.join(' · ')}</dd>
            </div>
          )}
        </dl>
      )}
      <p className="text-sm text-ink-2 wrap-anywhere">{finding.summary}</p>
      <p className="mt-auto flex items-start gap-1.5 pt-1 text-sm font-medium text-ink wrap-anywhere">
        <ArrowRight size={16} aria-hidden="true" className={`mt-0.5 shrink-0 ${style.ink}`} />
        <span>
          <span className="sr-only">What to do: </span>
          {finding.action}
        </span>
      </p>
    </article>
  );
}

/** A folded finding: one line, the same facts in short. */
function FindingRow({ finding, now }: { finding: LensEvent; now: number }) {
  const gpu = eventGpu(finding);
  const who = eventWho(finding);
  const style = SEVERITY_STYLE[finding.severity];
  return (
    <li
      className="flex min-w-0 flex-col gap-1 rounded-xl border border-white/10 bg-white/[0.04] px-3 py-2.5 sm:flex-row sm:items-center sm:gap-3"
      data-testid="finding-row"
      data-severity={finding.severity}
    >
      <span className={`inline-flex shrink-0 items-center gap-1.5 text-xs font-semibold uppercase tracking-wide ${style.ink}`}>
        <style.Icon size={14} aria-hidden="true" />
        {SEVERITY_LABEL[finding.severity]}
      </span>
      <span className="min-w-0 font-display font-semibold text-ink wrap-anywhere">{eventTitle(finding)}</span>
      <span className="min-w-0 text-sm text-ink-2 wrap-anywhere">
        {[gpu, who.join(' · ') || null].filter(Boolean).join(' — ')}
      </span>
      <span className="num shrink-0 text-sm text-ink-3 sm:ml-auto">since {since(finding, now)}</span>
    </li>
  );
}

function FindingsStripImpl({ findings }: FindingsStripProps) {
  const reduce = useReducedMotion();
  const [open, setOpen] = useState(false);
  const listId = useId();
  const now = useNow(15_000, findings.length > 0);
  // Info findings (a GPU at its power cap under full load) are normal work: they are in
  // the Events view and /metrics, not in the strip that says something needs attention.
  const sorted = useMemo(() => findings.filter((f) => f.severity !== 'info').sort(bySeverity), [findings]);
  const shown = sorted.slice(0, FINDINGS_SHOWN);
  const rest = sorted.slice(FINDINGS_SHOWN);
  const critical = sorted.filter((f) => f.severity === 'critical').length;
  return (
    <AnimatePresence initial={false}>
      {sorted.length > 0 && (
        <m.section
          key="findings"
          aria-labelledby={`${listId}-title`}
          data-testid="findings-strip"
          className="flex min-w-0 flex-col gap-3"
          initial={reduce ? false : { opacity: 0, y: -8 }}
          animate={{ opacity: 1, y: 0 }}
          exit={reduce ? { opacity: 0, transition: { duration: 0 } } : { opacity: 0, y: -8 }}
          transition={{ duration: 0.2, ease: 'easeOut' }}
        >
          <h2 id={`${listId}-title`} className="label flex items-center gap-2">
            Findings
            <span className="num rounded-full border border-white/15 bg-white/5 px-2 py-px text-[11px] text-ink-2">
              {sorted.length} active{critical > 0 ? ` · ${critical} critical` : ''}
            </span>
          </h2>
          <ul className="grid grid-cols-1 gap-3 md:grid-cols-2 xl:grid-cols-3 lg:gap-4" data-testid="findings-cards">
            <AnimatePresence initial={false} mode="popLayout">
              {shown.map((f) => (
                <m.li
                  key={f.id}
                  className="min-w-0"
                  layout={reduce ? false : 'position'}
                  initial={reduce ? false : { opacity: 0, scale: 0.98 }}
                  animate={{ opacity: 1, scale: 1 }}
                  exit={reduce ? { opacity: 0, transition: { duration: 0 } } : { opacity: 0, scale: 0.98 }}
                  transition={{ duration: 0.18, ease: 'easeOut' }}
                >
                  <FindingCard finding={f} now={now} />
                </m.li>
              ))}
            </AnimatePresence>
          </ul>
          {rest.length > 0 && (
            <div className="flex flex-col gap-2">
              <button
                type="button"
                className="inline-flex w-fit items-center gap-1.5 rounded-lg border border-line-strong bg-white/5 px-3 py-1.5 text-sm font-semibold text-ink transition-colors hover:bg-white/10"
                aria-expanded={open}
                aria-controls={`${listId}-more`}
                aria-label={open ? 'Show fewer findings' : `${rest.length} more finding${rest.length === 1 ? '' : 's'}`}
                onClick={() => setOpen((o) => !o)}
                data-testid="findings-more"
              >
                <ChevronDown
                  size={16}
                  aria-hidden="true"
                  className={`transition-transform duration-150 ${open ? 'rotate-180' : ''}`}
                />
                {open ? 'Show fewer' : `${rest.length} more`}
              </button>
              <ul id={`${listId}-more`} hidden={!open} className="flex flex-col gap-2" data-testid="findings-rest">
                {open && rest.map((f) => <FindingRow key={f.id} finding={f} now={now} />)}
              </ul>
            </div>
          )}
        </m.section>
      )}
    </AnimatePresence>
  );
}

/**
 * The findings active now, under the status banner: nothing at all when all is
 * well; otherwise a card per finding, most severe first, and beyond three a
 * "N more" disclosure.
 */
export const FindingsStrip = memo(FindingsStripImpl);
