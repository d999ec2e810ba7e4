import { featureSetLabel } from '@edgehead/contracts';
import { ApiCallError, api, type Extractions, ok } from '../api.ts';
import { code, h, mount, notice } from '../dom.ts';
import { duration, num, when } from '../format.ts';
import { poll } from '../router.ts';
import { statusBadge } from './status.ts';

type Extraction = Extractions['extractions'][number];

const LIVE = new Set(['queued', 'running']);

function row(e: Extraction) {
  const fs = e.featureSet;
  return h(
    'tr',
    { 'data-extraction-id': e.id, 'data-state': e.state },
    h('th', { scope: 'row', class: 'mono run-id', title: e.id }, e.id.slice(0, 8)),
    h('td', { 'data-label': 'Dataset', class: 'nowrap' }, e.datasetName),
    h(
      'td',
      {
        'data-label': 'Feature set',
        class: 'wrap mono',
        title: `weights ${fs.weights.sha256 ?? 'not recorded (legacy)'} from ${fs.weights.source}; key ${fs.key}`,
      },
      featureSetLabel(fs),
    ),
    h('td', { 'data-label': 'State', class: 'status-cell' }, statusBadge(e.state, e.error)),
    h(
      'td',
      { class: 'num', 'data-label': 'Done' },
      h('progress', { max: Math.max(e.total, 1), value: e.done, 'aria-hidden': 'true' }),
      ` ${e.done}/${e.total}`,
      e.failed ? h('small', {}, ` (${e.failed} failed)`) : null,
    ),
    h('td', { class: 'num', 'data-label': 'Images/s' }, num(e.imagesPerSecond, 3)),
    h(
      'td',
      { class: 'num', 'data-label': 'ETA' },
      e.etaSeconds === null || e.etaSeconds === 0 ? '–' : duration(e.etaSeconds * 1000),
    ),
    h('td', { class: 'num', 'data-label': 'Started' }, when(e.createdAt)),
    h('td', { 'data-label': 'Error', class: 'wrap error-cell' }, e.error ?? '–'),
  );
}

function augmentedSection(extractions: Extraction[]) {
  const figures = extractions.map(samples).filter((f) => f !== null);
  if (figures.length === 0) return [];
  return [
    h('h2', { id: 'augmented-samples' }, 'Augmented samples'),
    h('div', { class: 'augmented-grid' }, figures),
  ];
}

/** Pixels a sample cell is shown at, at least (the gpu service scales the grid by whole factors). */
const CELL_PX = 96;

/**
 * The augmented samples of an augmented extraction: a picture the gpu service renders (through the edge)
 * of its first training images, each original then its copies, as the backbone saw them.
 */
function samples(e: Extraction) {
  const fs = e.featureSet;
  if (fs.provenance?.kind !== 'augmented') return null;
  const params = fs.provenance.params;
  const width = fs.inputSize?.[1] ?? CELL_PX;
  const scale = Math.min(8, Math.max(1, Math.ceil(CELL_PX / width)));
  const copies = Math.min(5, Number(params.copies) || 1);
  const src = api.extractions[':id'].samples.$url({
    param: { id: e.id },
    query: { images: '4', copies: String(copies), scale: String(scale) },
  });
  const settings = [
    'copies',
    'seed',
    'rotation',
    'widthShift',
    'heightShift',
    'shear',
    'zoom',
    'horizontalFlip',
    'fillMode',
  ]
    .map((k) => `${k} ${String(params[k])}`)
    .join(', ');
  return h(
    'figure',
    { class: 'augmented-samples', 'data-extraction-id': e.id },
    h('img', {
      src: `${src.pathname}${src.search}`,
      alt: `Augmented copies of 4 training images of ${e.datasetName} (each row: the original, then ${copies} copies)`,
      loading: 'lazy',
    }),
    h(
      'figcaption',
      {},
      h('strong', {}, `${e.datasetName}: ${featureSetLabel(fs)}`),
      h('br'),
      `Each row: a training image, then ${copies} of its ${String(params.copies)} augmented copies. ${settings}.`,
    ),
  );
}

/** Extractions: every dataset x feature set with its state, done/total, rate, ETA and error; live while one runs. */
export function extractionsPage(root: HTMLElement): () => void {
  const live = h('p', { class: 'live-note', 'aria-live': 'polite', role: 'status' });
  const body = h('div');
  mount(root, h('header', { class: 'page-head' }, h('h1', {}, 'Feature extractions')), live, body);
  mount(body, notice('loading', 'Loading extractions…'));
  let hasLive = false;
  let stopped = false;
  const load = async () => {
    const { extractions } = await ok(api.extractions.$get());
    if (stopped) return;
    hasLive = extractions.some((e) => LIVE.has(e.state));
    live.textContent = hasLive ? 'Extractions are queued or running: updating every 3 s' : '';
    if (extractions.length === 0) {
      mount(
        body,
        notice(
          'empty',
          'No extractions yet.',
          h(
            'p',
            {},
            'Run ',
            code('edgehead extract --dataset <name> --backbone <name>'),
            ' (or ',
            code('edgehead demo'),
            ').',
          ),
        ),
      );
      return;
    }
    mount(
      body,
      h(
        'div',
        { class: 'table-scroll' },
        h(
          'table',
          { class: 'runs extractions' },
          h('caption', { class: 'sr-only' }, 'Feature extractions, newest first'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              [
                'Extraction',
                'Dataset',
                'Feature set',
                'State',
                'Done',
                'Images/s',
                'ETA',
                'Started',
                'Error',
              ].map((t) =>
                h(
                  'th',
                  {
                    scope: 'col',
                    class: ['Done', 'Images/s', 'ETA', 'Started'].includes(t) ? 'num' : undefined,
                  },
                  t,
                ),
              ),
            ),
          ),
          h('tbody', {}, extractions.map(row)),
        ),
      ),
      ...augmentedSection(extractions),
    );
  };
  load().catch((err: unknown) => {
    const e = err instanceof ApiCallError ? err : new ApiCallError(0, 'internal', String(err));
    mount(body, notice('error', `Could not load extractions: ${e.message}`));
  });
  const ticker = poll(async () => {
    if (hasLive) await load().catch(() => undefined);
  }, 3000);
  return () => {
    stopped = true;
    ticker.stop();
  };
}
