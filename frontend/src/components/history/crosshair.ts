import { createContext, useContext, useSyncExternalStore } from 'react';

/**
 * The shared crosshair of the past view: the index of the point under the
 * pointer, on whichever chart it is. Every chart draws its own line and value
 * there; the charts themselves (Recharts) never re-render for it, only the
 * small overlay and readout of each chart do.
 */
export interface Crosshair {
  get(): number | null;
  set(index: number | null): void;
  subscribe(listener: () => void): () => void;
}

export function createCrosshair(): Crosshair {
  let index: number | null = null;
  const listeners = new Set<() => void>();
  return {
    get: () => index,
    set(next) {
      if (next === index) return;
      index = next;
      for (const l of [...listeners]) l();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export const CrosshairContext = createContext<Crosshair | null>(null);

const none = () => () => {};
const nothing = () => null;

/** The crosshair's index (null: none), re-rendering the caller when it moves. */
export function useCrosshair(): [number | null, Crosshair | null] {
  const crosshair = useContext(CrosshairContext);
  const index = useSyncExternalStore(crosshair?.subscribe ?? none, crosshair?.get ?? nothing, nothing);
  return [index, crosshair];
}
