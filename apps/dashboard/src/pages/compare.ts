import { COMPARE_MAX_RUNS, COMPARE_MIN_RUNS, compareQuery } from '@edgehead/contracts';
import { ApiCallError, api, type Comparison, ok } from '../api.ts';
import { type Chart, chart, type Line, PALETTE } from '../charts.ts';
import { h, mount, notice } from '../dom.ts';
import { best, differs, duration, flatten, num, pct, presetLabel } from '../format.ts';
import { href } from '../router.ts';
import { selection } from '../selection.ts';
import { accuracyRange, anchorLine } from './run.ts';
import { statusBadge } from './status.ts';

type Compared = Comparison['runs'][number];

/** Overlaid series of one metric: one line per run over the union of their epochs. */
export function overlay(runs: Compared[], metric: 'valAccuracy' | 'valLoss' | 'accuracy' | 'loss') {
  const maxEpoch = Math.max(0, ...runs.flatMap((r) => r.epochs.map((e) => e.epoch)));
  const x = Array.from({ length: maxEpoch }, (_, i) => i + 1);
  const lines: Line[] = runs.map((r, i) => {
    const byEpoch = new Map(r.epochs.map((e) => [e.epoch, e[metric]]));
    return {
      label: r.run.id.slice(0, 8),
      values: x.map((n) => byEpoch.get(n) ?? null),
      color: PALETTE[i % PALETTE.length] as string,
    };
  });
  return { x, lines };
}

function durationOf(r: Compared): number | null {
  const { startedAt, finishedAt } = r.run;
  return startedAt && finishedAt ? Date.parse(finishedAt) - Date.parse(startedAt) : null;
}

/** Rows of the side-by-side table: label and one display value per run. */
export function compareRows(runs: Compared[]): [string, string[]][] {
  const test = (r: Compared) => r.evaluations.find((e) => e.split === 'test');
  const rows: [string, string[]][] = [
    ['Dataset', runs.map((r) => r.dataset.name)],
    ['Backbone / feature set', runs.map((r) => r.run.featureSet)],
    ['Preset', runs.map((r) => presetLabel(r.run))],
    ['Status', runs.map((r) => r.run.status)],
    ['Epochs', runs.map((r) => `${r.epochs.length}/${r.run.epochsTotal}`)],
    ['Best val accuracy', runs.map((r) => pct(best(r.epochs.map((e) => e.valAccuracy)), 2))],
    ['Final val loss', runs.map((r) => num(r.epochs.at(-1)?.valLoss ?? null))],
    ['Test accuracy', runs.map((r) => pct(test(r)?.accuracy, 2))],
    ['Test F1', runs.map((r) => num(test(r)?.f1))],
    ['Test ROC AUC', runs.map((r) => num(test(r)?.rocAuc))],
    ['Duration', runs.map((r) => duration(durationOf(r)))],
    ['Backend', runs.map((r) => r.run.backend ?? '–')],
  ];
  const configs = runs.map((r) => flatten(r.run.config));
  const keys = [...new Set(configs.flatMap((c) => Object.keys(c)))].sort();
  for (const key of keys) rows.push([`config: ${key}`, configs.map((c) => c[key] ?? '–')]);
  return rows;
}

/** Compare: 2-10 runs' validation curves overlaid and their config and metrics side by side. */
export function comparePage(root: HTMLElement, params: URLSearchParams): () => void {
  const parsed = compareQuery.safeParse({ ids: params.get('ids') ?? '' });
  const picked = selection.get();
  if (!parsed.success) {
    mount(
      root,
      h('header', { class: 'page-head' }, h('h1', {}, 'Compare runs')),
      notice(
        'empty',
        `Pick ${COMPARE_MIN_RUNS} to ${COMPARE_MAX_RUNS} runs to compare.`,
        h(
          'p',
          {},
          'Tick the boxes in the ',
          h('a', { href: href('/runs') }, 'runs table'),
          ', then press “Compare selected”.',
        ),
        params.get('ids')
          ? h('p', {}, `The address asked for: ${parsed.error.issues[0]?.message ?? 'invalid ids'}.`)
          : null,
        picked.length >= COMPARE_MIN_RUNS
          ? h(
              'p',
              {},
              h(
                'a',
                { class: 'button', href: href('/compare', { ids: picked.join(',') }) },
                `Compare the ${picked.length} selected runs`,
              ),
            )
          : null,
      ),
    );
    return () => undefined;
  }
  const ids = parsed.data.ids;
  mount(root, notice('loading', `Loading ${ids.length} runs…`));
  const charts: Chart[] = [];
  let stopped = false;
  ok(api.compare.$get({ query: { ids: ids.join(',') } }))
    .then(({ runs }) => {
      if (stopped) return;
      const acc = overlay(runs, 'valAccuracy');
      const loss = overlay(runs, 'valLoss');
      charts.push(
        chart({
          title: 'Validation accuracy per epoch',
          xLabel: 'epoch',
          integerX: true,
          yLabel: 'val accuracy',
          x: acc.x,
          lines: [...acc.lines, anchorLine(acc.x)],
          y: accuracyRange,
        }),
        chart({
          title: 'Validation loss per epoch',
          xLabel: 'epoch',
          integerX: true,
          yLabel: 'val loss',
          x: loss.x,
          lines: loss.lines,
        }),
      );
      const rows = compareRows(runs);
      const differing = rows.filter(([, v]) => differs(v)).length;
      mount(
        root,
        h(
          'header',
          { class: 'page-head' },
          h('h1', {}, `Compare ${runs.length} runs`),
          h('p', {}, `${differing} of ${rows.length} rows differ (highlighted).`),
        ),
        h(
          'section',
          { class: 'charts', 'aria-label': 'Overlaid learning curves' },
          ...charts.map((c) => c.element),
        ),
        h(
          'div',
          { class: 'table-scroll' },
          h(
            'table',
            { class: 'compare' },
            h(
              'caption',
              { class: 'sr-only' },
              'Config and metrics side by side; rows that differ are marked',
            ),
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { scope: 'col' }, 'Field'),
                runs.map((r, i) =>
                  h(
                    'th',
                    { scope: 'col' },
                    h('span', {
                      class: 'swatch',
                      style: `background:${PALETTE[i % PALETTE.length]}`,
                      'aria-hidden': 'true',
                    }),
                    h('a', { href: href(`/runs/${r.run.id}`), class: 'mono' }, r.run.id.slice(0, 8)),
                    ' ',
                    statusBadge(r.run.status),
                    ' ',
                    h(
                      'a',
                      {
                        href: href('/compare', { ids: ids.filter((x) => x !== r.run.id).join(',') }),
                        class: 'remove',
                        'aria-label': `Remove run ${r.run.id.slice(0, 8)} from the comparison`,
                      },
                      '×',
                    ),
                  ),
                ),
              ),
            ),
            h(
              'tbody',
              {},
              rows.map(([label, values]) => {
                const diff = differs(values);
                return h(
                  'tr',
                  { class: diff ? 'diff' : '' },
                  h(
                    'th',
                    { scope: 'row' },
                    label,
                    diff
                      ? h('span', { class: 'diff-mark' }, ' ≠', h('span', { class: 'sr-only' }, ' (differs)'))
                      : null,
                  ),
                  values.map((v) => h('td', {}, v)),
                );
              }),
            ),
          ),
        ),
      );
    })
    .catch((err: unknown) => {
      if (stopped) return;
      const e = err instanceof ApiCallError ? err : new ApiCallError(0, 'internal', String(err));
      mount(
        root,
        h('header', { class: 'page-head' }, h('h1', {}, 'Compare runs')),
        notice(
          'error',
          `Could not compare: ${e.message}`,
          h(
            'p',
            {},
            e.status === 404 ? 'One of the runs no longer exists. ' : '',
            h('a', { href: href('/runs') }, 'Pick runs again'),
            '.',
          ),
        ),
      );
    });
  return () => {
    stopped = true;
    for (const c of charts) c.destroy();
  };
}
