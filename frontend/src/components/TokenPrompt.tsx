import { KeyRound, LoaderCircle, TriangleAlert } from 'lucide-react';
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import type { SignInResult } from '../api/signIn';

export interface TokenPromptProps {
  /** POST /api/session with the token (api/signIn.ts); injected so the component stays pure. */
  signIn: (token: string) => Promise<SignInResult>;
  /** The server took the token: the page reconnects the stream and refetches. */
  onSignedIn: () => void;
  /** Why the prompt shows: 'throttled' (the stream closed with 4429, or an /api 429) says so at once. */
  reason?: 'signin' | 'throttled';
  /** Seconds to wait, when a 429 said. */
  retryAfterS?: number | null;
}

function tooManyAttempts(retryAfterS: number | null | undefined): string {
  return retryAfterS != null
    ? `Too many wrong attempts — try again in ${retryAfterS} s.`
    : 'Too many wrong attempts — try again in a minute.';
}

function message(result: Exclude<SignInResult, { ok: true }>): string {
  switch (result.kind) {
    case 'wrong':
      return 'That token is not right.';
    case 'throttled':
      return tooManyAttempts(result.retryAfterS);
    case 'network':
      return 'Could not reach the gpulens server. Check that it is running, then try again.';
    case 'http':
      return `The server refused the sign-in: ${result.message}`;
  }
}

/**
 * The access-token prompt (issue 17): a glass card over the page. The token
 * typed here goes to `signIn` and nowhere else: the field has no `name` (a
 * form submitted without script could not put it in a URL), nothing is
 * stored, and the state is cleared once it has been sent. Errors are read out
 * (aria-live); the field takes the focus when the card shows and after a
 * failed attempt, so it is usable from the keyboard alone.
 */
export function TokenPrompt({ signIn, onSignedIn, reason = 'signin', retryAfterS = null }: TokenPromptProps) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ text: string; attempt: number } | null>(() =>
    reason === 'throttled' ? { text: tooManyAttempts(retryAfterS), attempt: 0 } : null,
  );

  useEffect(() => {
    input.current?.focus();
  }, []);

  const fail = (text: string) => {
    setError((e) => ({ text, attempt: (e?.attempt ?? 0) + 1 }));
    input.current?.focus();
    input.current?.select();
  };

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    if (token.trim() === '') {
      fail('Enter the access token first.');
      return;
    }
    setBusy(true);
    const result = await signIn(token);
    setBusy(false);
    if (result.ok) {
      setToken('');
      setError(null);
      onSignedIn();
      return;
    }
    fail(message(result));
  }

  const errorId = `${id}-error`;
  return (
    <div className="fixed inset-0 z-50 overflow-y-auto bg-canvas/70 backdrop-blur-md" data-testid="token-prompt">
      <div className="flex min-h-full items-center justify-center p-4 sm:p-8">
        <section
          role="dialog"
          aria-modal="true"
          aria-labelledby={`${id}-title`}
          aria-describedby={`${id}-intro`}
          className="glass gradient-border rise-in w-full max-w-md rounded-3xl p-6 sm:p-8"
        >
          <div className="flex size-12 items-center justify-center rounded-2xl bg-linear-to-br from-neon-violet/35 to-neon-cyan/20 ring-1 ring-white/15">
            <KeyRound size={24} aria-hidden="true" className="text-cyan-ink" />
          </div>
          <h2 id={`${id}-title`} className="mt-5 font-display text-2xl leading-tight font-semibold tracking-tight text-ink sm:text-3xl">
            This dashboard needs an access token
          </h2>
          <p id={`${id}-intro`} className="mt-3 text-ink-2">
            Ask whoever runs this gpulens server for it. It is sent once to sign you in; this browser then keeps a session
            cookie until it closes.
          </p>
          <form className="mt-6" noValidate onSubmit={(e) => void submit(e)}>
            <label htmlFor={`${id}-token`} className="label block">
              Access token
            </label>
            <input
              ref={input}
              id={`${id}-token`}
              type="password"
              autoComplete="current-password"
              autoCapitalize="off"
              autoCorrect="off"
              spellCheck={false}
              value={token}
              onChange={(e) => setToken(e.target.value)}
              aria-invalid={error !== null && error.attempt > 0 ? true : undefined}
              aria-describedby={error !== null ? errorId : undefined}
              className="mt-2 w-full rounded-xl border border-line-strong bg-black/30 px-4 py-3 font-mono text-base text-ink shadow-inner outline-none transition-colors placeholder:text-ink-3 focus-visible:border-cyan-ink focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-cyan-ink aria-invalid:border-hot/70"
            />
            <div aria-live="assertive" aria-atomic="true" className="min-h-6">
              {error !== null && (
                <p key={error.attempt} id={errorId} className="mt-3 flex items-start gap-2 text-sm text-hot-ink" data-testid="token-error">
                  <TriangleAlert size={16} aria-hidden="true" className="mt-0.5 shrink-0" />
                  <span>{error.text}</span>
                </p>
              )}
            </div>
            <button
              type="submit"
              aria-disabled={busy || undefined}
              className="mt-4 inline-flex w-full items-center justify-center gap-2 rounded-xl bg-linear-to-r from-[#6d28d9] to-[#a21caf] px-4 py-3 font-semibold text-white shadow-[0_10px_30px_-12px_rgb(217_70_239/0.7)] transition-[filter,transform] hover:brightness-110 active:scale-[0.99] aria-disabled:cursor-wait aria-disabled:opacity-80"
            >
              {busy && <LoaderCircle size={18} aria-hidden="true" className="motion-safe:animate-spin" />}
              {busy ? 'Signing in…' : 'Sign in'}
            </button>
          </form>
          <p className="mt-5 text-xs leading-relaxed text-ink-3">
            Scripts and Prometheus send it as a header instead:{' '}
            <code className="text-ink-2 wrap-anywhere">Authorization: Bearer &lt;token&gt;</code>
          </p>
        </section>
      </div>
    </div>
  );
}
