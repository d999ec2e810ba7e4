import {
  COMPARE_MAX_RUNS,
  COMPARE_MIN_RUNS,
  type RunSortKey,
  type RunsQueryInput,
  runsQuery,
} from '@edgehead/contracts';
import { ApiCallError, api, type Facets, ok, type RunRow, type RunsPage } from '../api.ts';
import { code, h, mount, notice } from '../dom.ts';
import { duration, headSummary, pct, presetLabel, when } from '../format.ts';
import { href, poll } from '../router.ts';
import { selection } from '../selection.ts';
import { statusBadge } from './status.ts';

const LIVE = new Set(['queued', 'running']);

const SORTABLE: { key: RunSortKey; label: string }[] = [
  { key: 'status', label: 'Status' },
  { key: 'best_val_accuracy', label: 'Best val acc' },
  { key: 'test_accuracy', label: 'Test acc' },
  { key: 'duration', label: 'Duration' },
  { key: 'created_at', label: 'Created' },
];

/** Reads the table state from the hash; invalid values fall back to the defaults. */
function readQuery(params: URLSearchParams): RunsQueryInput {
  const raw = Object.fromEntries([...params].filter(([, v]) => v !== ''));
  const parsed = runsQuery.safeParse(raw);
  if (parsed.success) return raw;
  const bad = new Set(parsed.error.issues.map((i) => String(i.path[0])));
  return Object.fromEntries(Object.entries(raw).filter(([k]) => !bad.has(k)));
}

/** The runs table: filters, server-side sort and pages, live status of training runs. */
export function runsPage(root: HTMLElement, params: URLSearchParams): () => void {
  const query = readQuery(params);
  const sort = (query.sort ?? 'created_at') as RunSortKey;
  const order = query.order ?? 'desc';
  const go = (patch: Partial<Record<keyof RunsQueryInput, string | undefined>>) => {
    location.hash = href('/runs', { ...query, page: undefined, ...patch });
  };

  const tableHost = h('div', { class: 'table-scroll' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages of runs' });
  const filters = h('form', {
    class: 'filters',
    'aria-label': 'Filter runs',
    onsubmit: (e: Event) => e.preventDefault(),
  });
  const compareBar = h('div', { class: 'compare-bar' });
  const live = h('p', { class: 'live-note', 'aria-live': 'polite' });
  mount(
    root,
    h('header', { class: 'page-head' }, h('h1', {}, 'Training runs'), live),
    filters,
    compareBar,
    tableHost,
    pager,
  );
  mount(tableHost, notice('loading', 'Loading runs…'));

  const renderCompareBar = () => {
    const ids = selection.get();
    const enough = ids.length >= COMPARE_MIN_RUNS;
    mount(
      compareBar,
      h('span', {}, `${ids.length} selected for comparison (${COMPARE_MIN_RUNS}-${COMPARE_MAX_RUNS})`),
      h(
        'a',
        {
          class: `button${enough ? '' : ' disabled'}`,
          href: enough ? href('/compare', { ids: ids.join(',') }) : undefined,
          'aria-disabled': enough ? undefined : 'true',
        },
        'Compare selected',
      ),
      ids.length > 0 &&
        h(
          'button',
          {
            type: 'button',
            class: 'link',
            onclick: () => {
              selection.clear();
              renderCompareBar();
              for (const box of tableHost.querySelectorAll<HTMLInputElement>('input[type=checkbox]'))
                box.checked = false;
            },
          },
          'Clear selection',
        ),
    );
  };

  const select = (name: keyof RunsQueryInput, label: string, options: [string, string][]) =>
    h(
      'label',
      {},
      h('span', {}, label),
      h(
        'select',
        { name, onchange: (e: Event) => go({ [name]: (e.target as HTMLSelectElement).value || undefined }) },
        options.map(([value, text]) =>
          h('option', { value, selected: String(query[name] ?? '') === value }, text),
        ),
      ),
    );

  const renderFilters = (facets: Facets | null) => {
    const datasets = facets?.datasets ?? [];
    const sets = facets?.featureSets ?? [];
    mount(
      filters,
      select('dataset', 'Dataset', [
        ['', 'All datasets'],
        ...datasets.map((d): [string, string] => [d.id, `${d.name} (${d.runs})`]),
      ]),
      select('featureSet', 'Backbone / feature set', [
        ['', 'All'],
        ...sets.map((f): [string, string] => [f.id, `${f.featureSet} (${f.runs})`]),
      ]),
      select('status', 'Status', [
        ['', 'Any status'],
        ...['queued', 'running', 'succeeded', 'failed', 'cancelled'].map((s): [string, string] => [s, s]),
      ]),
      select(
        'pageSize',
        'Per page',
        ['10', '25', '50', '100'].map((n): [string, string] => [n, n]),
      ),
      (query.dataset || query.featureSet || query.status) &&
        h(
          'button',
          {
            type: 'button',
            class: 'link',
            onclick: () => go({ dataset: undefined, featureSet: undefined, status: undefined }),
          },
          'Clear filters',
        ),
    );
    if (!query.pageSize) (filters.querySelector('select[name=pageSize]') as HTMLSelectElement).value = '25';
  };

  const header = () =>
    h(
      'tr',
      {},
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Select for comparison')),
      h('th', { scope: 'col' }, 'Run'),
      h('th', { scope: 'col' }, 'Dataset'),
      h('th', { scope: 'col' }, 'Backbone'),
      h('th', { scope: 'col' }, 'Preset / head'),
      ...['Status', 'Epochs', 'Best val acc', 'Test acc', 'Duration', 'Backend', 'Created'].map((label) => {
        const sortable = SORTABLE.find((s) => s.label === label);
        if (!sortable) return h('th', { scope: 'col', class: 'num' }, label);
        const active = sort === sortable.key;
        const next = active && order === 'desc' ? 'asc' : 'desc';
        return h(
          'th',
          {
            scope: 'col',
            class: label === 'Status' ? '' : 'num',
            'aria-sort': active ? (order === 'asc' ? 'ascending' : 'descending') : 'none',
          },
          h(
            'button',
            {
              type: 'button',
              class: 'sort',
              'aria-label': `Sort by ${label} ${next === 'asc' ? 'ascending' : 'descending'}`,
              onclick: () => go({ sort: sortable.key, order: next }),
            },
            label,
            h(
              'span',
              { 'aria-hidden': 'true', class: 'sort-mark' },
              active ? (order === 'asc' ? ' ▲' : ' ▼') : ' ↕',
            ),
          ),
        );
      }),
    );

  const row = (r: RunRow) => {
    const picked = selection.get().includes(r.id);
    return h(
      'tr',
      { 'data-run-id': r.id, 'data-status': r.status },
      h(
        'td',
        { class: 'pick' },
        h('input', {
          type: 'checkbox',
          checked: picked,
          'aria-label': `Compare run ${r.id.slice(0, 8)}`,
          onchange: (e: Event) => {
            selection.toggle(r.id, (e.target as HTMLInputElement).checked);
            renderCompareBar();
          },
        }),
      ),
      h(
        'th',
        { scope: 'row', class: 'run-id' },
        h(
          'a',
          { href: href(`/runs/${r.id}`), class: 'mono', 'aria-label': `Run ${r.id.slice(0, 8)}` },
          r.id.slice(0, 8),
        ),
      ),
      h('td', { 'data-label': 'Dataset', class: 'nowrap' }, r.datasetName),
      h('td', { 'data-label': 'Backbone', class: 'wrap' }, r.featureSet),
      h(
        'td',
        { 'data-label': 'Preset / head', class: 'head-cell' },
        h('span', { class: 'preset' }, presetLabel(r)),
        headSummary(r.config) !== '–' && h('br'),
        headSummary(r.config) !== '–' && h('small', {}, headSummary(r.config)),
      ),
      h('td', { 'data-label': 'Status', class: 'status-cell' }, statusBadge(r.status, r.error)),
      h('td', { class: 'num', 'data-label': 'Epochs' }, `${r.epochsDone}/${r.epochsTotal}`),
      h('td', { class: 'num', 'data-label': 'Best val acc' }, pct(r.bestValAccuracy)),
      h('td', { class: 'num', 'data-label': 'Test acc' }, pct(r.testAccuracy)),
      h('td', { class: 'num', 'data-label': 'Duration' }, duration(r.durationMs)),
      h('td', { class: 'num', 'data-label': 'Backend' }, r.backend ?? '–'),
      h('td', { class: 'num', 'data-label': 'Created' }, when(r.createdAt)),
    );
  };

  const renderTable = (page: RunsPage, facets: Facets | null) => {
    if (page.total === 0) {
      const filtered = Boolean(query.dataset || query.featureSet || query.status);
      mount(
        tableHost,
        filtered
          ? notice(
              'empty',
              'No runs match these filters.',
              h('p', {}, h('a', { href: href('/runs') }, 'Clear the filters'), ' to see every run.'),
            )
          : notice(
              'empty',
              'No runs yet.',
              h(
                'p',
                {},
                'Run ',
                code('edgehead demo'),
                ' (or ',
                code('edgehead train --dataset <name>'),
                ') and the runs appear here as they train.',
              ),
              facets && facets.datasets.length === 0
                ? h('p', {}, 'There is no dataset either: ', code('edgehead ingest <folder>'), ' adds one.')
                : null,
            ),
      );
      mount(pager);
      return;
    }
    mount(
      tableHost,
      h(
        'table',
        { class: 'runs' },
        h(
          'caption',
          { class: 'sr-only' },
          `Training runs, page ${page.page} of ${page.pages}, sorted by ${sort.replace(/_/g, ' ')} ${order === 'asc' ? 'ascending' : 'descending'}`,
        ),
        h('thead', {}, header()),
        h('tbody', {}, page.items.map(row)),
      ),
    );
    const first = (page.page - 1) * page.pageSize + 1;
    const last = first + page.items.length - 1;
    mount(
      pager,
      h(
        'a',
        {
          class: `button${page.page > 1 ? '' : ' disabled'}`,
          rel: 'prev',
          href: page.page > 1 ? href('/runs', { ...query, page: page.page - 1 }) : undefined,
          'aria-label': 'Previous page',
        },
        '‹ Prev',
      ),
      h(
        'span',
        { 'aria-live': 'polite' },
        `${first}–${last} of ${page.total} · page ${page.page} of ${page.pages}`,
      ),
      h(
        'a',
        {
          class: `button${page.page < page.pages ? '' : ' disabled'}`,
          rel: 'next',
          href: page.page < page.pages ? href('/runs', { ...query, page: page.page + 1 }) : undefined,
          'aria-label': 'Next page',
        },
        'Next ›',
      ),
    );
    const liveCount = page.items.filter((r) => LIVE.has(r.status)).length;
    live.textContent = liveCount
      ? `${liveCount} run${liveCount > 1 ? 's' : ''} queued or training on this page: updating every 3 s`
      : '';
  };

  let facets: Facets | null = null;
  let hasLive = false;
  const load = async () => {
    const page = await ok(api.runs.$get({ query }));
    hasLive = page.items.some((r) => LIVE.has(r.status));
    renderTable(page, facets);
  };

  renderFilters(null);
  renderCompareBar();
  let cancelled = false;
  Promise.all([ok(api.facets.$get()).catch(() => null), load()])
    .then(([f]) => {
      if (cancelled) return;
      facets = f;
      renderFilters(f);
    })
    .catch((err: unknown) => {
      if (cancelled) return;
      const e = err instanceof ApiCallError ? err : new ApiCallError(0, 'internal', String(err));
      mount(
        tableHost,
        notice(
          'error',
          `Could not load runs: ${e.message}`,
          e.status === 400
            ? h(
                'p',
                {},
                'A filter in the address is not valid. ',
                h('a', { href: href('/runs') }, 'Reset the table'),
                '.',
              )
            : h(
                'p',
                {},
                'Check that the edge worker is running and can reach Postgres through its ',
                code('HYPERDRIVE'),
                ' binding (locally: ',
                code('npm start'),
                ' starts the embedded database), then reload.',
              ),
        ),
      );
    });
  const ticker = poll(async () => {
    if (hasLive) await load().catch(() => undefined);
  }, 3000);
  return () => {
    cancelled = true;
    ticker.stop();
  };
}
