import { h } from '../dom.ts';

/**
 * A confusion matrix as a heatmap table: rows are true classes, columns predicted ones; the shade is the
 * share of the true class (so rows compare across class sizes), and every cell also states count and share.
 */
export function confusionMatrix(matrix: number[][], classes: string[], split: string): HTMLElement {
  const label = (i: number) => classes[i] ?? `class ${i}`;
  const rows = matrix.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return h(
      'tr',
      {},
      h('th', { scope: 'row' }, label(i)),
      row.map((count, j) => {
        const share = total ? count / total : 0;
        const hue = i === j ? '160 60% 32%' : '10 75% 45%';
        return h(
          'td',
          {
            class: 'cm-cell num',
            style: `background: hsl(${hue} / ${(0.08 + share * 0.82).toFixed(2)}); color: ${share > 0.55 ? '#fff' : 'inherit'}`,
            'aria-label': `true ${label(i)}, predicted ${label(j)}: ${count} (${(share * 100).toFixed(1)}% of ${label(i)})`,
          },
          h('strong', {}, String(count)),
          h('small', {}, `${(share * 100).toFixed(0)}%`),
        );
      }),
    );
  });
  return h(
    'table',
    { class: 'confusion', 'data-testid': 'confusion' },
    h('caption', {}, `Confusion matrix (${split}): rows true class, columns predicted`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('td', { class: 'corner' }, h('span', { class: 'sr-only' }, 'true \\ predicted')),
        classes.map((_, j) => h('th', { scope: 'col' }, label(j))),
      ),
    ),
    h('tbody', {}, rows),
  );
}
