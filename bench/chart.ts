import { cdfPoints, quantile } from './stats';

/**
 * The lag distribution as an SVG line chart: one cumulative distribution per consumer, share of
 * events (y) delivered within a lag (x). Self-contained markup (no scripts, no external fonts)
 * so that GitHub renders it inline in the README.
 */

export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  readonly samples: readonly number[];
}

export interface ChartOptions {
  readonly title: string;
  readonly subtitle?: string;
  readonly width?: number;
  readonly height?: number;
}

const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A round axis maximum and tick step for data up to `max`: 1, 2 or 5 times a power of ten. */
export const niceScale = (max: number, ticks = 5): { max: number; step: number } => {
  if (!(max > 0)) return { max: 1, step: 0.2 };
  const rough = max / ticks;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].find((m) => m * power >= rough) ?? 10) * power;
  return { max: Math.ceil(max / step) * step, step };
};

const format = (value: number): string =>
  value >= 100 ? value.toFixed(0) : value.toPrecision(3).replace(/\.?0+$/, '');

export const lagChartSvg = (series: readonly ChartSeries[], options: ChartOptions): string => {
  const width = options.width ?? 720;
  const height = options.height ?? 400;
  const margin = { top: 56, right: 24, bottom: 56, left: 64 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const withData = series.filter((s) => s.samples.length > 0);
  // The x axis ends a little past the slowest p99: the last percent would squash everything else.
  const p99 = Math.max(...withData.map((s) => quantile(s.samples, 0.99)), 1);
  const { max: xMax, step: xStep } = niceScale(p99 * 1.1);
  const x = (ms: number): number => margin.left + (Math.min(ms, xMax) / xMax) * plotWidth;
  const y = (share: number): number => margin.top + (1 - share) * plotHeight;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${margin.left}" y="24" font-size="16" font-weight="bold">${escapeXml(options.title)}</text>`,
  );
  if (options.subtitle)
    parts.push(`<text x="${margin.left}" y="42" fill="#555555">${escapeXml(options.subtitle)}</text>`);

  for (let tick = 0; tick <= xMax + xStep / 2; tick += xStep) {
    const px = x(tick).toFixed(1);
    parts.push(
      `<line x1="${px}" y1="${margin.top}" x2="${px}" y2="${margin.top + plotHeight}" stroke="#e5e5e5"/>`,
      `<text x="${px}" y="${margin.top + plotHeight + 18}" text-anchor="middle" fill="#333333">${format(tick)}</text>`,
    );
  }
  for (let share = 0; share <= 1.0001; share += 0.25) {
    const py = y(share).toFixed(1);
    parts.push(
      `<line x1="${margin.left}" y1="${py}" x2="${margin.left + plotWidth}" y2="${py}" stroke="#e5e5e5"/>`,
      `<text x="${margin.left - 8}" y="${py}" dy="4" text-anchor="end" fill="#333333">${Math.round(share * 100)}%</text>`,
    );
  }
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999999"/>`,
    `<text x="${margin.left + plotWidth / 2}" y="${height - 14}" text-anchor="middle" fill="#333333">lag, commit → accepted by EventBridge (ms)</text>`,
    `<text x="16" y="${margin.top + plotHeight / 2}" text-anchor="middle" fill="#333333" transform="rotate(-90 16 ${margin.top + plotHeight / 2})">events delivered within</text>`,
  );

  withData.forEach((s, i) => {
    const points = cdfPoints(s.samples);
    // A step function: the share only rises at a sample.
    let path = `M${x(0).toFixed(1)},${y(0).toFixed(1)}`;
    let previous = 0;
    for (const [ms, share] of points) {
      path += ` L${x(ms).toFixed(1)},${y(previous).toFixed(1)} L${x(ms).toFixed(1)},${y(share).toFixed(1)}`;
      previous = share;
    }
    path += ` L${x(xMax).toFixed(1)},${y(previous).toFixed(1)}`;
    parts.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    const legendY = margin.top + plotHeight - 12 - (withData.length - 1 - i) * 18;
    const legendX = margin.left + plotWidth - 300;
    const p50 = quantile(s.samples, 0.5);
    const p99s = quantile(s.samples, 0.99);
    parts.push(
      `<line x1="${legendX}" y1="${legendY - 4}" x2="${legendX + 20}" y2="${legendY - 4}" stroke="${s.color}" stroke-width="3"/>`,
      `<text x="${legendX + 26}" y="${legendY}" fill="#222222">${escapeXml(`${s.label}: p50 ${format(p50)} ms, p99 ${format(p99s)} ms`)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
};
