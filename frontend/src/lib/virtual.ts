// Which rows of a long list to render: those in the window, and a few
// either side so a scroll shows rows before they are measured. The list
// scrolls with the page, so offset is how far the window's top is past
// the list's top (negative while the list starts lower down).

export interface Range {
  start: number;
  end: number; // exclusive
}

export function visibleRange(o: { offset: number; viewport: number; rowHeight: number; count: number; overscan?: number }): Range {
  const h = Math.max(1, o.rowHeight);
  const over = o.overscan ?? 10;
  const first = Math.floor(Math.max(0, o.offset) / h);
  const last = Math.ceil(Math.max(0, o.offset + o.viewport) / h);
  const start = Math.min(o.count, Math.max(0, first - over));
  const end = Math.min(o.count, Math.max(start, last + over));
  return { start, end };
}
