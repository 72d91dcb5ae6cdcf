/**
 * A tiny history-API router: every view has a real URL under /console/ (shareable, reloadable;
 * the server answers index.html for all of them). Links are plain <a href> that this module
 * intercepts, so opening one in a new tab works too.
 */
import { useEffect, useState } from 'preact/hooks';

export const ROOT = '/console';

export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new Event('dn-navigate'));
}

/** The current pathname and search, re-rendering on navigation. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const read = () => ({ path: location.pathname, search: new URLSearchParams(location.search) });
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const on = () => setLoc(read());
    window.addEventListener('popstate', on);
    window.addEventListener('dn-navigate', on);
    return () => { window.removeEventListener('popstate', on); window.removeEventListener('dn-navigate', on); };
  }, []);
  return loc;
}

/** Same-origin console links navigate in place; modified clicks (new tab) are left to the browser. */
export function interceptLinks(): void {
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = (e.target as Element | null)?.closest?.('a');
    if (!a || a.target || a.origin !== location.origin || !a.pathname.startsWith(ROOT)) return;
    e.preventDefault();
    navigate(a.pathname + a.search);
  });
}

export const paths = {
  instances: (q?: string) => `${ROOT}/instances${q ? `?${q}` : ''}`,
  instance: (id: string) => `${ROOT}/instances/${encodeURIComponent(id)}`,
  entities: (name?: string) => `${ROOT}/entities${name ? `/${encodeURIComponent(name)}` : ''}`,
  entity: (name: string, key: string) => `${ROOT}/entities/${encodeURIComponent(name)}/${encodeURIComponent(key)}`,
  /** '@counter@x' -> the entity's page. */
  entityRef: (ref: string) => {
    const m = /^@([^@]+)@(.*)$/.exec(ref);
    return m ? paths.entity(m[1]!, m[2]!) : paths.entities();
  },
  schedules: () => `${ROOT}/schedules`,
  workers: () => `${ROOT}/workers`,
};
