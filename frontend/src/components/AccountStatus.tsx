import { LogOut, UserRound } from 'lucide-react';
import { useState } from 'react';
import type { SessionInfo } from '../api/session';

interface AccountStatusProps {
  /** GET /api/session's answer; null (not asked yet, or failed) shows nothing. */
  session: SessionInfo | null;
  /** DELETE /api/session, then the prompt; resolves false when the server could not be told. */
  onSignOut: () => Promise<boolean>;
}

/**
 * Who is signed in, in the footer (issue 17): "Signed in as <user>" when a
 * trusted proxy named the user, and "Sign out" when the page signed in with
 * the access token (its session cookie). Nothing for an open server.
 */
export function AccountStatus({ session, onSignOut }: AccountStatusProps) {
  const [failed, setFailed] = useState(false);
  if (session === null || !session.authenticated) return null; // App checks showsAccount() first
  if (session.method === 'proxy' && session.user) {
    return (
      <span className="inline-flex items-center gap-1 text-ink-2" data-testid="signed-in-as">
        <UserRound size={12} aria-hidden="true" />
        Signed in as <span className="font-semibold text-ink">{session.user}</span>
      </span>
    );
  }
  if (session.method !== 'session') return null;
  return (
    <span className="inline-flex flex-wrap items-center gap-x-2" data-testid="session-status">
      <span>signed in with the access token</span>
      <button
        type="button"
        className="inline-flex items-center gap-1 rounded-md border border-line px-2 py-1 font-semibold text-ink-2 hover:border-line-strong hover:text-ink"
        onClick={() => {
          setFailed(false);
          void onSignOut().then((ok) => setFailed(!ok));
        }}
      >
        <LogOut size={12} aria-hidden="true" />
        Sign out
      </button>
      {failed && (
        <span role="status" className="text-warn-ink">
          Could not sign out: the server did not answer.
        </span>
      )}
    </span>
  );
}
