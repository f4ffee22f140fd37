import type { LoadSample } from '../../src/admin/types.js';

const SVG = 'http://www.w3.org/2000/svg';
const PAD = { top: 12, right: 16, bottom: 24, left: 40 };

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

/** A round upper bound for the y axis: 4, 5, 10, 20, 25, 50, 100, … */
export function niceMax(value: number): number {
  if (value <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

/**
 * Draws active sessions (line + area), requests in flight (line), the
 * capacity limit (dashed line: it moves in adaptive mode) and shed requests
 * per second (bars) over the last `windowMs`, ending at `now`,
 * sized to the element's current width so text is never stretched.
 * Returns the time span drawn, in ms.
 */
export function drawChart(
  target: SVGSVGElement,
  samples: readonly LoadSample[],
  windowMs: number,
  now: number,
): number {
  const width = Math.max(320, Math.round(target.clientWidth || 960));
  const height = Math.max(160, Math.round(target.clientHeight || 240));
  target.setAttribute('viewBox', `0 0 ${width} ${height}`);
  target.setAttribute('preserveAspectRatio', 'xMidYMid meet');
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  // Until the node has `windowMs` of history, the chart spans what it has
  // (at least a minute), so a fresh node does not draw in one corner.
  const oldest = samples[0]?.at ?? now;
  const spanMs = Math.min(windowMs, Math.max(60_000, now - oldest));
  const start = now - spanMs;
  const visible = samples.filter((s) => s.at >= start);
  const peak = visible.reduce(
    (max, s) => Math.max(max, s.activeSessions, s.inFlightRequests, s.shed, s.capacityLimit),
    0,
  );
  const yMax = niceMax(peak);
  const x = (at: number) => PAD.left + ((at - start) / spanMs) * plotW;
  const y = (value: number) => PAD.top + plotH - (value / yMax) * plotH;

  const nodes: SVGElement[] = [];
  for (let i = 0; i <= 4; i += 1) {
    const value = (yMax / 4) * i;
    const yy = y(value);
    nodes.push(svg('line', { class: 'grid', x1: PAD.left, x2: width - PAD.right, y1: yy, y2: yy }));
    const label = svg('text', { class: 'axis', x: PAD.left - 8, y: yy + 4, 'text-anchor': 'end' });
    label.textContent = Number.isInteger(value) ? String(value) : value.toFixed(1);
    nodes.push(label);
  }
  const stepMs =
    [10_000, 15_000, 30_000, 60_000, 120_000].find((step) => spanMs / step <= 6) ?? 300_000;
  for (let ago = 0; ago <= spanMs; ago += stepMs) {
    const label = svg('text', {
      class: 'axis',
      x: x(now - ago),
      y: height - 6,
      'text-anchor': ago === 0 ? 'end' : 'middle',
    });
    label.textContent =
      ago === 0 ? 'now' : ago % 60_000 === 0 ? `−${ago / 60_000} min` : `−${ago / 1000} s`;
    nodes.push(label);
  }

  const barWidth = Math.max(1.5, (plotW / spanMs) * 1000 * 0.8);
  for (const s of visible) {
    if (s.shed <= 0) continue;
    const top = y(s.shed);
    nodes.push(
      svg('rect', {
        class: 'bar-shed',
        x: x(s.at) - barWidth,
        y: top,
        width: barWidth,
        height: PAD.top + plotH - top,
      }),
    );
  }
  if (visible.length > 0) {
    const line = (pick: (s: LoadSample) => number) =>
      visible
        .map((s, i) => `${i === 0 ? 'M' : 'L'}${x(s.at).toFixed(1)},${y(pick(s)).toFixed(1)}`)
        .join('');
    const sessions = line((s) => s.activeSessions);
    const first = visible[0]!;
    const last = visible[visible.length - 1]!;
    const base = y(0).toFixed(1);
    nodes.push(
      svg('path', {
        class: 'area-sessions',
        d: `${sessions}L${x(last.at).toFixed(1)},${base}L${x(first.at).toFixed(1)},${base}Z`,
      }),
    );
    nodes.push(
      svg('path', { class: 'line-sessions', d: sessions, 'data-testid': 'chart-sessions' }),
    );
    nodes.push(
      svg('path', {
        class: 'line-inflight',
        d: line((s) => s.inFlightRequests),
        'data-testid': 'chart-inflight',
      }),
    );
    nodes.push(
      svg('path', {
        class: 'line-limit',
        d: line((s) => s.capacityLimit),
        'data-testid': 'chart-limit',
      }),
    );
  }
  target.replaceChildren(...nodes);
  target.dataset.points = String(visible.length);
  return spanMs;
}
