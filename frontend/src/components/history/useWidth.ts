import { useCallback, useEffect, useRef, useState } from 'react';

/**
 * The element's content width, kept up to date (0 until measured). Read in the
 * ResizeObserver's callbacks, the first of them right after the page's next
 * layout: reading it when the element is attached would force a layout in the
 * middle of the render (with whatever else was just inserted, e.g. a table).
 */
export function useWidth<T extends HTMLElement>(): [(node: T | null) => void, number] {
  const [width, setWidth] = useState(0);
  const observer = useRef<ResizeObserver | null>(null);
  const ref = useCallback((node: T | null) => {
    observer.current?.disconnect();
    observer.current = null;
    if (node === null) return;
    if (typeof ResizeObserver === 'undefined') {
      setWidth(Math.floor(node.getBoundingClientRect().width));
      return;
    }
    observer.current = new ResizeObserver((entries) => {
      const w = Math.floor(entries[0]?.contentRect.width ?? 0);
      setWidth((old) => (old === w ? old : w));
    });
    observer.current.observe(node);
  }, []);
  useEffect(() => () => observer.current?.disconnect(), []);
  return [ref, width];
}
