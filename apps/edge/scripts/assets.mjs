// Copies the dashboard build into ./public for the assets binding; a placeholder page when it is not built.
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';

const src = new URL('../../dashboard/dist/', import.meta.url);
const dst = new URL('../public/', import.meta.url);
rmSync(dst, { recursive: true, force: true });
mkdirSync(dst, { recursive: true });
if (existsSync(new URL('index.html', src))) cpSync(src, dst, { recursive: true });
else {
  const placeholder =
    '<!doctype html><title>edgehead</title><p>The dashboard is not built yet: run <code>npm run build -w @edgehead/dashboard</code>.</p>\n';
  for (const page of ['index.html', 'signin.html']) writeFileSync(new URL(page, dst), placeholder);
}
