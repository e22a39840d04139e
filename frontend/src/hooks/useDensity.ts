import { useCallback, useEffect, useState } from 'react';
import { DENSITY_STORAGE_KEY, loadDensity, saveDensity, type Density } from '../lib/density';

/**
 * The GPUs view's density, read once from localStorage and written back on
 * each change; a change made in another tab of the same browser is followed
 * (the storage event).
 */
export function useDensity(): [Density, (next: Density) => void] {
  const [density, setDensity] = useState<Density>(() => loadDensity());
  useEffect(() => {
    const onStorage = (event: StorageEvent) => {
      if (event.key === DENSITY_STORAGE_KEY || event.key === null) setDensity(loadDensity());
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, []);
  const change = useCallback((next: Density) => {
    setDensity(next);
    saveDensity(next);
  }, []);
  return [density, change];
}
