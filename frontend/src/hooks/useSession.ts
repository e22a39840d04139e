import { useEffect, useState } from 'react';
import { fetchSession, type SessionInfo } from '../api/session';

/**
 * Who the server says is signed in (GET /api/session), for the footer's
 * "Signed in as …" and "Sign out". Asked only once `ready` (the stream is
 * live: the page's first paint never waits for it) and again whenever
 * `epoch` changes (after a sign-in or a sign-out). Null until answered, or
 * when the question failed: the footer then simply shows nothing.
 */
export function useSession(ready: boolean, epoch: number, fetcher: typeof fetchSession = fetchSession): SessionInfo | null {
  const [answer, setAnswer] = useState<{ epoch: number; info: SessionInfo } | null>(null);
  const asked = answer?.epoch === epoch;
  useEffect(() => {
    if (!ready || asked) return;
    const controller = new AbortController();
    void fetcher(controller.signal).then((info) => {
      if (info !== null) setAnswer({ epoch, info });
    });
    return () => controller.abort();
  }, [ready, asked, epoch, fetcher]);
  return asked ? answer.info : null;
}
