import { h } from '../dom.ts';

/** A status pill with text (colour is never the only cue); failed runs carry the error as a tooltip. */
export function statusBadge(status: string, error?: string | null): HTMLElement {
  return h(
    'span',
    { class: `status status-${status}`, title: error ?? undefined },
    status === 'running' ? h('span', { class: 'pulse', 'aria-hidden': 'true' }) : null,
    status,
  );
}
