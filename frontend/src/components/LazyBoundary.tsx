import { TriangleAlert } from 'lucide-react';
import { Component, type ReactNode } from 'react';

interface State {
  error: string | null;
}

/**
 * Catches a lazy chunk that fails to load (the server was updated and the old
 * file is gone, the network dropped) or to render, so the rest of the page
 * keeps working: it says what happened and offers a reload.
 */
export class LazyBoundary extends Component<{ what: string; children: ReactNode }, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error.message : String(error) };
  }

  override render() {
    if (this.state.error === null) return this.props.children;
    return (
      <section className="glass rounded-3xl border-hot/40 p-6 sm:p-8" role="alert" data-testid="lazy-error">
        <p className="flex items-center gap-2 font-display text-xl font-semibold text-hot-ink">
          <TriangleAlert size={22} aria-hidden="true" /> Could not load the {this.props.what}
        </p>
        <p className="mt-2 text-sm text-ink-2 wrap-anywhere">{this.state.error}</p>
        <button
          type="button"
          className="mt-4 rounded-lg border border-line-strong bg-white/5 px-3 py-2 text-sm font-semibold hover:bg-white/10"
          onClick={() => window.location.reload()}
        >
          Reload the page
        </button>
      </section>
    );
  }
}
