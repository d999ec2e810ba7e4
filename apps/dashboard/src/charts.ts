import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** One line of a chart. */
export interface Line {
  label: string;
  values: (number | null)[];
  color: string;
  dash?: number[];
  width?: number;
  /** Draw point markers (default: when there are few points). */
  points?: boolean;
}

/** A chart of lines over a shared numeric x axis (epochs, or false-positive rate for ROC). */
export interface ChartSpec {
  /** Accessible name: what the chart shows (the summary is appended). */
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  lines: Line[];
  /** y range: fixed, or computed from the data's min and max on every redraw; auto when absent. */
  y?: [number, number] | ((min: number | null, max: number | null) => [number, number]);
  /** Whole-number x ticks only (epochs). */
  integerX?: boolean;
  /** Fixed x range (ROC: [0, 1]). */
  xRange?: [number, number];
  height?: number;
  /** One sentence read by screen readers after the title, e.g. the best value. */
  summary?: string;
}

/** Distinct, colour-blind-friendly line colours (Okabe-Ito). */
export const PALETTE = [
  '#0072B2',
  '#D55E00',
  '#009E73',
  '#CC79A7',
  '#E69F00',
  '#56B4E9',
  '#7A5195',
  '#8C564B',
  '#000000',
  '#999933',
];

function yScale(y: ChartSpec['y']): uPlot.Scale {
  if (!y) return {};
  if (typeof y === 'function') return { range: (_u, min, max) => y(min, max) };
  return { range: y };
}

/** A live chart: `update()` swaps the data without rebuilding; `destroy()` frees it. */
export interface Chart {
  element: HTMLElement;
  update(spec: Pick<ChartSpec, 'x' | 'lines' | 'summary'>): void;
  destroy(): void;
}

function describe(el: HTMLElement, spec: Pick<ChartSpec, 'x' | 'lines' | 'summary'> & { title: string }) {
  el.setAttribute(
    'aria-label',
    `${spec.title}. ${spec.lines.map((l) => l.label).join(', ')}; ${spec.x.length} points.${spec.summary ? ` ${spec.summary}` : ''}`,
  );
  // tests and tooling read how many x values are drawn without decoding the canvas
  el.dataset.points = String(spec.x.length);
  el.dataset.series = String(spec.lines.length);
}

/**
 * Draws a uPlot line chart into a new element sized to its container.
 * @example chart({ title: 'Loss', xLabel: 'epoch', yLabel: 'loss', x: [1, 2], lines: [{ label: 'train', values: [0.7, 0.5], color: PALETTE[0] }] })
 */
export function chart(spec: ChartSpec): Chart {
  const element = document.createElement('figure');
  element.className = 'chart';
  element.setAttribute('role', 'img');
  const caption = document.createElement('figcaption');
  caption.textContent = spec.title;
  const host = document.createElement('div');
  host.className = 'chart-host';
  element.append(caption, host);
  describe(element, spec);

  const opts: uPlot.Options = {
    width: 600,
    height: spec.height ?? 260,
    scales: {
      x: { time: false, ...(spec.xRange ? { range: spec.xRange } : {}) },
      y: yScale(spec.y),
    },
    axes: [
      {
        label: spec.xLabel,
        ...(spec.integerX ? { incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000] } : {}),
        stroke: 'currentColor',
        grid: { stroke: 'rgba(127,127,127,0.15)' },
        ticks: { stroke: 'rgba(127,127,127,0.3)' },
      },
      {
        label: spec.yLabel,
        stroke: 'currentColor',
        grid: { stroke: 'rgba(127,127,127,0.15)' },
        ticks: { stroke: 'rgba(127,127,127,0.3)' },
        size: 56,
      },
    ],
    legend: { show: true, live: true },
    cursor: { drag: { x: false, y: false } },
    series: [
      { label: spec.xLabel },
      ...spec.lines.map(
        (l): uPlot.Series => ({
          label: l.label,
          stroke: l.color,
          width: l.width ?? 2,
          dash: l.dash,
          spanGaps: true,
          points: { show: l.points ?? ((u: uPlot) => (u.data[0]?.length ?? 0) <= 60), size: 5 },
        }),
      ),
    ],
  };
  const data = (x: number[], lines: Line[]): uPlot.AlignedData => [x, ...lines.map((l) => l.values)];
  const plot = new uPlot(opts, data(spec.x, spec.lines), host);
  let lineCount = spec.lines.length;

  const resize = () => {
    const width = Math.max(240, Math.floor(host.clientWidth));
    if (width !== plot.width) plot.setSize({ width, height: spec.height ?? 260 });
  };
  const observer = new ResizeObserver(resize);
  observer.observe(host);
  requestAnimationFrame(resize);

  return {
    element,
    update(next) {
      if (next.lines.length !== lineCount) {
        // uPlot keeps its series list: add or drop series so the data lines up
        while (plot.series.length - 1 > next.lines.length) plot.delSeries(plot.series.length - 1);
        for (let i = plot.series.length - 1; i < next.lines.length; i++) {
          const l = next.lines[i] as Line;
          plot.addSeries({
            label: l.label,
            stroke: l.color,
            width: l.width ?? 2,
            dash: l.dash,
            spanGaps: true,
          });
        }
        lineCount = next.lines.length;
      }
      plot.setData(data(next.x, next.lines));
      describe(element, { ...next, title: spec.title });
    },
    destroy() {
      observer.disconnect();
      plot.destroy();
    },
  };
}
