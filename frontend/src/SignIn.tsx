/**
 * The token prompt with its POST (issue 17), a chunk of its own: App loads it
 * only when the server refused the stream or an /api request, so a server
 * with open access never downloads it. The prompt covers the page; the page
 * under it is made inert (no focus, not read out) while it shows.
 */
import { useEffect } from 'react';
import { createPortal } from 'react-dom';
import { signIn } from './api/signIn';
import { TokenPrompt } from './components/TokenPrompt';

export interface SignInProps {
  reason: 'signin' | 'throttled';
  retryAfterS: number | null;
  onSignedIn: () => void;
}

export default function SignIn({ reason, retryAfterS, onSignedIn }: SignInProps) {
  useEffect(() => {
    const root = document.getElementById('root');
    if (root === null) return;
    root.inert = true;
    return () => {
      root.inert = false;
    };
  }, []);
  return createPortal(
    <TokenPrompt signIn={signIn} onSignedIn={onSignedIn} reason={reason} retryAfterS={retryAfterS} />,
    document.body,
  );
}
