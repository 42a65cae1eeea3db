import { describe, expect, it } from 'vitest';
import { lagChartSvg, niceScale } from '../../../bench/chart';

describe('niceScale', () => {
  it('rounds the axis up to a multiple of 1, 2 or 5 times a power of ten', () => {
    expect(niceScale(87)).toEqual({ max: 100, step: 20 });
    expect(niceScale(1234)).toEqual({ max: 1500, step: 500 });
    expect(niceScale(0.3).max).toBeCloseTo(0.3);
    expect(niceScale(0)).toEqual({ max: 1, step: 0.2 });
  });
});

describe('lagChartSvg', () => {
  const series = [
    { label: 'relay', color: '#d62728', samples: [100, 120, 140, 160, 900] },
    { label: 'baseline <loop>', color: '#7f7f7f', samples: [80, 90, 100, 110, 120] },
  ];

  it('draws one line and one legend entry per series, with p50 and p99', () => {
    // Act
    const svg = lagChartSvg(series, { title: 'Lag & more' });
    // Assess
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('relay: p50 140 ms');
    expect(svg).toContain('stroke="#d62728"');
  });

  it('escapes text so that labels cannot break the markup', () => {
    const svg = lagChartSvg(series, { title: 'Lag & more', subtitle: '"quoted"' });
    expect(svg).toContain('Lag &amp; more');
    expect(svg).toContain('baseline &lt;loop&gt;');
    expect(svg).toContain('&quot;quoted&quot;');
    expect(svg).not.toContain('<loop>');
  });

  it('keeps every coordinate inside the picture even for a long tail', () => {
    const svg = lagChartSvg([{ label: 'tail', color: '#000', samples: [1, 2, 3, 1_000_000] }], {
      title: 't',
      width: 400,
    });
    const xs = [...svg.matchAll(/[ML](\d+(?:\.\d+)?),/g)].map((m) => Number(m[1]));
    expect(Math.max(...xs)).toBeLessThanOrEqual(400);
  });

  it('skips series without samples', () => {
    const svg = lagChartSvg([...series, { label: 'empty', color: '#123456', samples: [] }], { title: 't' });
    expect(svg).not.toContain('empty');
  });
});
