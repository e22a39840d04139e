/** Columns: 1 on phones, 2 from 768 px, 3 from 1280 px, 4 on very wide screens (never more than GPUs). */
export function gridColumns(count: number): string {
  if (count <= 1) return 'grid-cols-1 max-w-4xl';
  if (count === 2) return 'grid-cols-1 md:grid-cols-2';
  if (count === 4) return 'grid-cols-1 md:grid-cols-2 3xl:grid-cols-4';
  return 'grid-cols-1 md:grid-cols-2 xl:grid-cols-3 3xl:grid-cols-4';
}
