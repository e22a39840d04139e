/**
 * The GPUs view's density: comfortable (one large card per GPU) or compact
 * (one row per GPU, the fleet view's row). Remembered per browser in
 * localStorage; anything unreadable, or no storage at all, is comfortable.
 */
export type Density = 'comfortable' | 'compact';

export const DENSITIES: readonly Density[] = ['comfortable', 'compact'];

export const DENSITY_STORAGE_KEY = 'gpulens.density';

export function densityStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // blocked (privacy settings): the choice lasts as long as the page
  }
}

/** The stored density; anything else is comfortable. */
export function loadDensity(store: Storage | null = densityStorage()): Density {
  try {
    const raw = store?.getItem(DENSITY_STORAGE_KEY);
    return raw === 'compact' ? 'compact' : 'comfortable';
  } catch {
    return 'comfortable';
  }
}

export function saveDensity(density: Density, store: Storage | null = densityStorage()): void {
  try {
    store?.setItem(DENSITY_STORAGE_KEY, density);
  } catch {
    /* full or blocked: the choice holds for this page */
  }
}
