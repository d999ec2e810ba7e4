import './style.css';
import { currentSession, signOut } from './api.ts';
import { h, mount, notice } from './dom.ts';
import { comparePage } from './pages/compare.ts';
import { extractionsPage } from './pages/extractions.ts';
import { modelsPage } from './pages/models.ts';
import { runPage } from './pages/run.ts';
import { runsPage } from './pages/runs.ts';
import { href, parseRoute } from './router.ts';

const root = document.getElementById('app') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const account = document.getElementById('account') as HTMLElement;
let cleanup: () => void = () => undefined;

function render() {
  cleanup();
  const route = parseRoute(location.hash);
  for (const link of nav.querySelectorAll('a')) {
    const current =
      link.dataset.page === route.page || (route.page === 'run' && link.dataset.page === 'runs');
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `edgehead · ${route.page === 'run' ? 'run' : route.page}`;
  switch (route.page) {
    case 'runs':
      cleanup = runsPage(root, route.params);
      break;
    case 'run':
      cleanup = runPage(root, route.id as string);
      break;
    case 'compare':
      cleanup = comparePage(root, route.params);
      break;
    case 'models':
      cleanup = modelsPage(root);
      break;
    case 'extractions':
      cleanup = extractionsPage(root);
      break;
    default:
      mount(
        root,
        notice(
          'error',
          `No page ${location.hash}.`,
          h('p', {}, h('a', { href: href('/runs') }, 'Go to the runs table'), '.'),
        ),
      );
      cleanup = () => undefined;
  }
  root.focus({ preventScroll: true });
}

/** Who is signed in, and the way out. */
async function showAccount() {
  const session = await currentSession();
  mount(
    account,
    h('span', {}, `Signed in as ${session.user}`),
    h(
      'button',
      {
        type: 'button',
        class: 'link',
        onclick: () =>
          signOut().catch((err: Error) => {
            account.textContent = `Sign-out failed: ${err.message}`;
          }),
      },
      'Sign out',
    ),
  );
}

window.addEventListener('hashchange', render);
render();
void showAccount().catch(() => undefined); // a page without a session is on its way to the sign-in page
