import './style.css';
import { errorBody, sessionResponse } from '@edgehead/contracts';
import { safeNext } from './router.ts';

const form = document.getElementById('signin') as HTMLFormElement;
const input = document.getElementById('token') as HTMLInputElement;
const status = document.getElementById('status') as HTMLElement;
const params = new URLSearchParams(location.search);
// the server's redirect kept the page's hash route (#/runs/...): go back to it too
const path = safeNext(params.get('next'));
const next = path.includes('#') ? path : path + location.hash;

if (params.get('error') === 'link')
  status.textContent =
    'That sign-in link was used already or has expired (a link works once, for 10 minutes). Sign in with the admin token, or restart `edgehead up` for a new link.';
if (!window.isSecureContext)
  status.textContent =
    'This address is not a secure context (plain http beyond localhost): the browser will not keep the session cookie. Open the dashboard over https, or on http://127.0.0.1.';

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  status.textContent = 'Signing in…';
  let res: Response;
  try {
    res = await fetch('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: input.value.trim() }),
    });
  } catch (cause) {
    status.textContent = `The edge did not answer (${(cause as Error).message}).`;
    return;
  }
  const body: unknown = await res.json().catch(() => null);
  if (res.ok && sessionResponse.safeParse(body).success) {
    location.assign(next);
    return;
  }
  const error = errorBody.safeParse(body);
  status.textContent = `Sign-in failed: ${error.success ? error.data.error.message : `HTTP ${res.status}`}.`;
  input.select();
});
