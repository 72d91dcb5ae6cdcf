/**
 * The console's shell: the key gate, the navigation and the route table. Every view has its own
 * URL (see router.ts); a key in the address (?code=) is adopted and removed from the address.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { adoptKeyFromUrl, getKey, setKey } from './api.js';
import { interceptLinks, paths, ROOT, useLocation } from './router.js';
import { EntitiesView } from './views/entities.js';
import { EntityView } from './views/entity.js';
import { InstanceView } from './views/instance.js';
import { InstancesView } from './views/instances.js';
import { LoginView } from './views/login.js';
import { SchedulesView } from './views/schedules.js';
import { WorkersView } from './views/workers.js';
import './styles.css';

function useKey(): string | null {
  const [key, set] = useState(getKey);
  useEffect(() => {
    const on = () => set(getKey());
    window.addEventListener('dn-key', on);
    return () => window.removeEventListener('dn-key', on);
  }, []);
  return key;
}

function route(path: string, search: URLSearchParams) {
  const parts = path.slice(ROOT.length).split('/').filter((p) => p.length > 0).map(decodeURIComponent);
  const [section, a, b] = parts;
  switch (section) {
    case undefined:
    case 'instances': return a === undefined ? <InstancesView search={search} /> : <InstanceView key={a} id={a} />;
    case 'entities': return a !== undefined && b !== undefined ? <EntityView key={`${a}/${b}`} name={a} entityKey={b} /> : <EntitiesView name={a} />;
    case 'schedules': return <SchedulesView />;
    case 'workers': return <WorkersView />;
    default: return <section><h1>Not found</h1><p>No console page at {path}.</p></section>;
  }
}

function App() {
  const key = useKey();
  const { path, search } = useLocation();
  const section = path.slice(ROOT.length).split('/')[1] || 'instances';
  const link = (href: string, label: string, name: string) => (
    <a href={href} aria-current={section === name ? 'page' : undefined}>{label}</a>
  );
  return (
    <>
      <header>
        <a class="brand" href={paths.instances()}>durable-nats</a>
        {key && (
          <nav aria-label="Main">
            {link(paths.instances(), 'Instances', 'instances')}
            {link(paths.entities(), 'Entities', 'entities')}
            {link(paths.schedules(), 'Schedules', 'schedules')}
            {link(paths.workers(), 'Workers', 'workers')}
          </nav>
        )}
        {key && <button type="button" class="link signout" onClick={() => setKey(null)}>Sign out</button>}
      </header>
      <main>{key ? route(path, search) : <LoginView />}</main>
    </>
  );
}

adoptKeyFromUrl();
interceptLinks();
render(<App />, document.getElementById('app')!);
