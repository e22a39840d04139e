import { useCallback, useEffect, useRef, useState } from 'react';

/**
 * One IntersectionObserver for every card: charts that are scrolled out of
 * sight stop redrawing (work proportional to what is on screen).
 */
const callbacks = new WeakMap<Element, (visible: boolean) => void>();
let shared: IntersectionObserver | null = null;

function observer(): IntersectionObserver | null {
  if (shared === null && typeof IntersectionObserver !== 'undefined') {
    shared = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) callbacks.get(entry.target)?.(entry.isIntersecting);
      },
      { rootMargin: '150px 0px' },
    );
  }
  return shared;
}

/**
 * [ref, visible]; visible stays true where IntersectionObserver is missing.
 * `initial`: what to assume before the observer's first answer (true: draw
 * now; false: wait until the element comes near the screen).
 */
export function useInView<T extends Element>(initial = true): [(node: T | null) => void, boolean] {
  const [visible, setVisible] = useState(() => initial || typeof IntersectionObserver === 'undefined');
  const node = useRef<T | null>(null);
  const ref = useCallback((el: T | null) => {
    const io = observer();
    if (node.current !== null) {
      callbacks.delete(node.current);
      io?.unobserve(node.current);
    }
    node.current = el;
    if (el !== null && io !== null) {
      callbacks.set(el, setVisible);
      io.observe(el);
    }
  }, []);
  useEffect(
    () => () => {
      if (node.current !== null) {
        callbacks.delete(node.current);
        shared?.unobserve(node.current);
      }
    },
    [],
  );
  return [ref, visible];
}
