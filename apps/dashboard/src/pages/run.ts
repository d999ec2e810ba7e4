import { RECIPE_VAL_ACCURACY_ANCHOR } from '@edgehead/contracts';
import { ApiCallError, api, ok, type RunDetail } from '../api.ts';
import { type Chart, chart, PALETTE } from '../charts.ts';
import { code, h, mount, notice } from '../dom.ts';
import { duration, flatten, num, pct, presetLabel, when } from '../format.ts';
import { href, poll } from '../router.ts';
import { confusionMatrix } from './confusion.ts';
import { statusBadge } from './status.ts';

type Epoch = RunDetail['epochs'][number];
type Evaluation = RunDetail['evaluations'][number];
const LIVE = new Set(['queued', 'running']);

/** Loss and accuracy series of a run, Keras-style: train solid, validation dashed. */
export function curveLines(
  epochs: Epoch[],
  colors: [string, string] = [PALETTE[0] as string, PALETTE[1] as string],
) {
  return {
    x: epochs.map((e) => e.epoch),
    loss: [
      { label: 'train loss', values: epochs.map((e) => e.loss), color: colors[0] },
      { label: 'val loss', values: epochs.map((e) => e.valLoss), color: colors[1], dash: [6, 3] },
    ],
    accuracy: [
      { label: 'train accuracy', values: epochs.map((e) => e.accuracy), color: colors[0] },
      { label: 'val accuracy', values: epochs.map((e) => e.valAccuracy), color: colors[1], dash: [6, 3] },
    ],
  };
}

/** The recipe anchor as a flat dashed line over the given epochs. */
export function anchorLine(x: number[]) {
  return {
    label: `VGG16 recipe ${RECIPE_VAL_ACCURACY_ANCHOR.toFixed(2)}`,
    values: x.map(() => RECIPE_VAL_ACCURACY_ANCHOR),
    color: '#888888',
    dash: [2, 4],
    width: 1.5,
    points: false,
  };
}

/** Accuracy axis: up to 1, down to a tenth below the lowest value (and below the anchor), so curves fill the plot. */
export function accuracyRange(dataMin: number | null): [number, number] {
  const low = Math.min(RECIPE_VAL_ACCURACY_ANCHOR, dataMin ?? 0);
  return [Math.max(0, Math.floor((low - 0.05) * 10) / 10), 1];
}

function bestVal(epochs: Epoch[]): Epoch | null {
  let top: Epoch | null = null;
  for (const e of epochs)
    if (e.valAccuracy !== null && (top === null || (top.valAccuracy ?? -1) < e.valAccuracy)) top = e;
  return top;
}

function metricsTable(evaluations: Evaluation[]) {
  const rows: [string, (e: Evaluation) => string][] = [
    ['Accuracy', (e) => pct(e.accuracy, 2)],
    ['Precision', (e) => num(e.precision)],
    ['Recall', (e) => num(e.recall)],
    ['F1', (e) => num(e.f1)],
    ['ROC AUC', (e) => num(e.rocAuc)],
    ['Threshold', (e) => num(e.threshold)],
    ['Images', (e) => String(e.n)],
  ];
  return h(
    'table',
    { class: 'metrics' },
    h('caption', {}, 'Evaluation metrics by split'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Metric'),
        evaluations.map((e) => h('th', { scope: 'col', class: 'num' }, e.split)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map(([label, f]) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, label),
          evaluations.map((e) => h('td', { class: 'num' }, f(e))),
        ),
      ),
    ),
  );
}

function perClassTable(e: Evaluation) {
  if (e.perClass.length === 0) return null;
  return h(
    'table',
    { class: 'metrics' },
    h('caption', {}, `Per class (${e.split})`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Class', 'Precision', 'Recall', 'F1', 'Support'].map((t, i) =>
          h('th', { scope: 'col', class: i ? 'num' : '' }, t),
        ),
      ),
    ),
    h(
      'tbody',
      {},
      e.perClass.map((c) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, c.label),
          h('td', { class: 'num' }, num(c.precision)),
          h('td', { class: 'num' }, num(c.recall)),
          h('td', { class: 'num' }, num(c.f1)),
          h('td', { class: 'num' }, String(c.support)),
        ),
      ),
    ),
  );
}

function rocChart(e: Evaluation): Chart | null {
  if (!e.roc || e.roc.length < 2) return null;
  const points = [...e.roc].sort((a, b) => a.fpr - b.fpr || a.tpr - b.tpr);
  const x = points.map((p) => p.fpr);
  return chart({
    title: `ROC curve (${e.split} split)`,
    xLabel: 'false positive rate',
    yLabel: 'true positive rate',
    x,
    xRange: [0, 1],
    y: [0, 1],
    lines: [
      {
        label: `ROC (AUC ${num(e.rocAuc, 3)})`,
        values: points.map((p) => p.tpr),
        color: PALETTE[2] as string,
      },
      { label: 'chance', values: x, color: '#999999', dash: [4, 4], width: 1, points: false },
    ],
    summary: `Area under the curve ${num(e.rocAuc, 3)}.`,
  });
}

/** The run page: curves (live while training), hyperparameters, test metrics, confusion matrix, ROC. */
export function runPage(root: HTMLElement, id: string): () => void {
  mount(root, notice('loading', 'Loading run…'));
  let lossChart: Chart | null = null;
  let accChart: Chart | null = null;
  let roc: Chart | null = null;
  let lastKey = '';
  let live = true;
  const head = h('header', { class: 'page-head' });
  const epochNote = h('p', { class: 'live-note', 'aria-live': 'polite' });
  const details = h('div', { class: 'run-details' });

  const render = (d: RunDetail) => {
    const { run, epochs } = d;
    live = LIVE.has(run.status);
    const lines = curveLines(epochs);
    const best = bestVal(epochs);
    if (!lossChart || !accChart) {
      lossChart = chart({
        title: 'Loss per epoch',
        xLabel: 'epoch',
        integerX: true,
        yLabel: 'loss',
        x: lines.x,
        lines: lines.loss,
      });
      accChart = chart({
        title: 'Accuracy per epoch',
        xLabel: 'epoch',
        integerX: true,
        yLabel: 'accuracy',
        x: lines.x,
        lines: [...lines.accuracy, anchorLine(lines.x)],
        y: accuracyRange,
      });
      mount(
        root,
        h('p', { class: 'crumbs' }, h('a', { href: href('/runs') }, '← All runs')),
        head,
        h(
          'section',
          { class: 'charts', 'aria-label': 'Learning curves' },
          lossChart.element,
          accChart.element,
        ),
        epochNote,
        details,
      );
    } else {
      lossChart.update({ x: lines.x, lines: lines.loss });
    }
    const summary = best
      ? `Best validation accuracy ${pct(best.valAccuracy)} at epoch ${best.epoch}.`
      : undefined;
    accChart.update({ x: lines.x, lines: [...lines.accuracy, anchorLine(lines.x)], summary });

    mount(
      head,
      h(
        'h1',
        {},
        'Run ',
        h('span', { class: 'mono' }, run.id.slice(0, 8)),
        ' ',
        statusBadge(run.status, run.error),
      ),
      h(
        'dl',
        { class: 'facts' },
        ...fact(
          'Dataset',
          `${d.dataset?.name ?? '–'}${d.dataset ? ` (${d.dataset.task}: ${d.dataset.classes.join(', ')})` : ''}`,
        ),
        ...fact('Backbone / feature set', run.featureSet),
        ...fact('Preset', presetLabel(run)),
        ...(run.fromRunId ? fact('Fine-tunes the head of run', run.fromRunId.slice(0, 8)) : []),
        ...(run.outputFeatureSetId ? fact('Fine-tuned feature set', run.outputFeatureSetId) : []),
        ...fact('Epochs', `${epochs.length}/${run.epochsTotal}`),
        ...fact('Best val accuracy', best ? `${pct(best.valAccuracy, 2)} (epoch ${best.epoch})` : '–'),
        ...fact('Backend', run.backend ?? '–'),
        ...fact(
          'Duration',
          run.startedAt
            ? duration((run.finishedAt ? Date.parse(run.finishedAt) : Date.now()) - Date.parse(run.startedAt))
            : '–',
        ),
        ...fact('Created', when(run.createdAt)),
        ...fact('Model', d.model ? `${d.model.name} v${d.model.version}` : 'not registered'),
      ),
      run.error ? notice('error', 'The run failed.', run.error) : null,
    );
    epochNote.textContent =
      epochs.length === 0
        ? run.status === 'queued'
          ? 'Queued: the curves appear when the first epoch ends.'
          : 'No epochs recorded yet.'
        : live
          ? `Training: ${epochs.length} of ${run.epochsTotal} epochs, updating every 2 s.`
          : '';

    // the metric sections change only when evaluations or the config do: rebuild them then
    const key = JSON.stringify([
      d.evaluations.map((e) => [e.split, e.n, e.accuracy, e.threshold]),
      run.status,
    ]);
    if (key === lastKey) return;
    lastKey = key;
    roc?.destroy();
    const test = d.evaluations.find((e) => e.split === 'test') ?? d.evaluations[0];
    roc = test && d.dataset?.task === 'binary' ? rocChart(test) : null;
    const config = flatten(run.config);
    mount(
      details,
      h(
        'section',
        { 'aria-labelledby': 'metrics-h' },
        h('h2', { id: 'metrics-h' }, 'Test metrics'),
        d.evaluations.length
          ? h(
              'div',
              { class: 'cards' },
              metricsTable(d.evaluations),
              test ? confusionMatrix(test.confusion, d.dataset?.classes ?? [], test.split) : null,
              roc?.element ?? null,
              test ? perClassTable(test) : null,
            )
          : notice(
              'empty',
              live
                ? 'No test metrics yet: they are written when training finishes.'
                : 'This run has no evaluation.',
              live
                ? null
                : h(
                    'p',
                    {},
                    'Runs that failed or were cancelled stop before the test split is evaluated; rerun with ',
                    code('edgehead train'),
                    '.',
                  ),
            ),
      ),
      h(
        'section',
        { 'aria-labelledby': 'hp-h' },
        h('h2', { id: 'hp-h' }, 'Hyperparameters'),
        Object.keys(config).length
          ? h('dl', { class: 'facts config' }, ...Object.entries(config).flatMap(([k, v]) => fact(k, v)))
          : h('p', {}, 'No config recorded.'),
      ),
    );
  };

  let stopped = false;
  const load = async () => {
    const d = await ok(api.runs[':id'].$get({ param: { id } }));
    if (!stopped) render(d);
  };
  load().catch((err: unknown) => {
    if (stopped) return;
    const e = err instanceof ApiCallError ? err : new ApiCallError(0, 'internal', String(err));
    live = false;
    mount(
      root,
      h('p', { class: 'crumbs' }, h('a', { href: href('/runs') }, '← All runs')),
      e.status === 404 || e.status === 400
        ? notice(
            'error',
            `No run ${id}.`,
            h(
              'p',
              {},
              'It may have been deleted with its dataset. ',
              h('a', { href: href('/runs') }, 'Pick a run from the table'),
              '.',
            ),
          )
        : notice(
            'error',
            `Could not load the run: ${e.message}`,
            'Check that the edge worker is running and can reach Postgres, then reload.',
          ),
    );
  });
  const ticker = poll(async () => {
    if (live) await load().catch(() => undefined);
  }, 2000);
  return () => {
    stopped = true;
    ticker.stop();
    lossChart?.destroy();
    accChart?.destroy();
    roc?.destroy();
  };
}

function fact(term: string, value: string): HTMLElement[] {
  return [h('dt', {}, term), h('dd', {}, value)];
}
