import type { VersionList } from '@edgehead/contracts';
import { type ApiCallError, activate, api, edgeVersions, type ModelOverview, ok, rollback } from '../api.ts';
import { code, h, mount, notice } from '../dom.ts';
import { pct, when } from '../format.ts';
import { href } from '../router.ts';

type Alias = ModelOverview['aliases'][number];

/** Models: versions per alias, which one serves at the edge, activate / roll back (through the session). */
export function modelsPage(root: HTMLElement): () => void {
  let stopped = false;
  const status = h('p', { class: 'live-note', 'aria-live': 'polite', role: 'status' });
  const body = h('div');
  mount(root, h('header', { class: 'page-head' }, h('h1', {}, 'Models and deployments')), status, body);
  mount(body, notice('loading', 'Loading models…'));

  const act = async (
    label: string,
    action: () => Promise<{ alias: string; active: string; previous: string | null }>,
  ) => {
    status.textContent = `${label}…`;
    try {
      const r = await action();
      status.textContent = `${r.alias}: ${r.active} is now active at the edge${r.previous ? ` (was ${r.previous})` : ''}.`;
    } catch (err) {
      status.textContent = `${label} failed: ${(err as ApiCallError).message}`;
    }
    void load();
  };

  const aliasSection = (a: Alias, edge: VersionList | null, edgeError: string | null) => {
    const servingAtEdge = edge?.active ?? null;
    return h(
      'section',
      { class: 'alias', 'aria-labelledby': `alias-${a.alias}`, 'data-alias': a.alias },
      h(
        'div',
        { class: 'alias-head' },
        h('h2', { id: `alias-${a.alias}` }, a.alias),
        h(
          'span',
          {},
          `active: ${servingAtEdge ?? a.active ?? 'none'}`,
          edge ? ' (edge)' : ' (database record)',
        ),
        h(
          'button',
          {
            type: 'button',
            'aria-label': `Roll back ${a.alias} to its previous version`,
            onclick: () => act(`Rolling back ${a.alias}`, () => rollback(a.alias)),
          },
          'Roll back',
        ),
      ),
      edgeError ? h('p', { class: 'warn' }, `The edge registry could not be read: ${edgeError}`) : null,
      edge && a.active && edge.active !== a.active
        ? h(
            'p',
            { class: 'warn' },
            `The database records ${a.active} as active but the edge serves ${edge.active ?? 'nothing'}.`,
          )
        : null,
      h(
        'div',
        { class: 'table-scroll' },
        h(
          'table',
          {},
          h('caption', { class: 'sr-only' }, `Versions of ${a.alias}`),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Version', 'Model', 'Run', 'Backbone', 'Test acc', 'Deployed', 'State', 'Action'].map((t) =>
                h('th', { scope: 'col', class: t === 'Test acc' ? 'num' : undefined }, t),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            a.versions.map((v) => {
              const active = servingAtEdge ? servingAtEdge === v.edgeVersion : v.active;
              return h(
                'tr',
                { class: active ? 'active' : '' },
                h('th', { scope: 'row', class: 'mono' }, v.edgeVersion),
                h('td', {}, `${v.model.name} v${v.model.version}`),
                h('td', {}, h('a', { href: href(`/runs/${v.run.id}`), class: 'mono' }, v.run.id.slice(0, 8))),
                h('td', {}, v.run.featureSet),
                h('td', { class: 'num' }, pct(v.run.testAccuracy)),
                h('td', {}, when(v.deployedAt)),
                h('td', {}, active ? h('span', { class: 'status status-succeeded' }, 'active') : '–'),
                h(
                  'td',
                  {},
                  active
                    ? ''
                    : h(
                        'button',
                        {
                          type: 'button',
                          'aria-label': `Activate ${a.alias} version ${v.edgeVersion}`,
                          onclick: () =>
                            act(`Activating ${a.alias} ${v.edgeVersion}`, () =>
                              activate(a.alias, v.edgeVersion),
                            ),
                        },
                        'Activate',
                      ),
                ),
              );
            }),
          ),
        ),
      ),
    );
  };

  const load = async () => {
    try {
      const overview = await ok(api.models.$get());
      const edge = await Promise.all(
        overview.aliases.map(async (a): Promise<[VersionList | null, string | null]> => {
          try {
            return [await edgeVersions(a.alias), null];
          } catch (err) {
            return [null, (err as Error).message];
          }
        }),
      );
      if (stopped) return;
      mount(
        body,
        overview.aliases.length === 0
          ? notice(
              'empty',
              'No model is deployed yet.',
              h(
                'p',
                {},
                'Publish a trained run to the edge with ',
                code('edgehead publish <run-id> --alias <name>'),
                '; its versions appear here.',
              ),
            )
          : overview.aliases.map((a, i) => aliasSection(a, edge[i]?.[0] ?? null, edge[i]?.[1] ?? null)),
        h(
          'section',
          { 'aria-labelledby': 'registered-h' },
          h('h2', { id: 'registered-h' }, 'Registered models'),
          overview.models.length === 0
            ? h(
                'p',
                {},
                'No trained head is registered yet: a succeeded run registers its head as the next version of a model.',
              )
            : h(
                'div',
                { class: 'table-scroll' },
                h(
                  'table',
                  {},
                  h(
                    'thead',
                    {},
                    h(
                      'tr',
                      {},
                      ['Model', 'Run', 'Backbone', 'Test acc', 'Created', 'Aliases'].map((t) =>
                        h('th', { scope: 'col', class: t === 'Test acc' ? 'num' : undefined }, t),
                      ),
                    ),
                  ),
                  h(
                    'tbody',
                    {},
                    overview.models.map((m) =>
                      h(
                        'tr',
                        {},
                        h('th', { scope: 'row' }, `${m.name} v${m.version}`),
                        h(
                          'td',
                          {},
                          h('a', { href: href(`/runs/${m.runId}`), class: 'mono' }, m.runId.slice(0, 8)),
                        ),
                        h('td', {}, m.featureSet),
                        h('td', { class: 'num' }, pct(m.testAccuracy)),
                        h('td', {}, when(m.createdAt)),
                        h('td', {}, m.aliases.join(', ') || '–'),
                      ),
                    ),
                  ),
                ),
              ),
        ),
      );
    } catch (err) {
      if (stopped) return;
      mount(
        body,
        notice(
          'error',
          `Could not load models: ${(err as Error).message}`,
          'Check that the edge worker is running and can reach Postgres, then reload.',
        ),
      );
    }
  };
  void load();
  return () => {
    stopped = true;
  };
}
