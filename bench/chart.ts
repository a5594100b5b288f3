import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * The report's charts, as Vega-Lite specs rendered to SVG in Node (vega's SVG
 * renderer needs no canvas). Each system keeps one colour, one marker and one
 * line style (by family) in every chart; rates and times use log scales so the
 * direct stdio baseline and the floor do not squash the gateways.
 */

/** A point of a line chart. */
export interface ChartPoint {
  readonly system: string;
  readonly family: string;
  readonly panel: string;
  readonly x: number;
  readonly y: number;
}

/** A bar of the memory chart. */
export interface MemoryBar {
  readonly system: string;
  readonly sessions: string;
  readonly mib: number;
  readonly projected: boolean;
}

/** Colour and marker of each system, fixed so the charts agree with each other. */
const STYLE: Record<string, { color: string; shape: string }> = {
  floor: { color: '#000000', shape: 'cross' },
  'relay-floor': { color: '#555555', shape: 'square' },
  direct: { color: '#7f7f7f', shape: 'diamond' },
  'mcp-fleet': { color: '#d62728', shape: 'circle' },
  'mcp-fleet-per-session': { color: '#ff7f0e', shape: 'square' },
  'mcp-fleet-shared': { color: '#e377c2', shape: 'triangle-up' },
  'mcp-fleet-modern': { color: '#8c564b', shape: 'triangle-down' },
  'mcp-fleet-cold': { color: '#bcbd22', shape: 'arrow' },
  'mcp-fleet-hono': { color: '#9467bd', shape: 'wedge' },
  supergateway: { color: '#1f77b4', shape: 'triangle-right' },
  'mcp-proxy': { color: '#2ca02c', shape: 'triangle-left' },
  'mcp-proxy-modern': { color: '#17becf', shape: 'triangle' },
};
const SPARE_COLORS = ['#9467bd', '#393b79', '#637939', '#8c6d31'];

/** Line style per family: peers dashed, baselines dotted, mcp-fleet solid. */
const DASH: Record<string, number[]> = { 'mcp-fleet': [1, 0], peer: [6, 3], floor: [2, 2], baseline: [2, 2] };
/** What the line styles mean, for the subtitle. */
const LINE_STYLES = 'solid lines: mcp-fleet; dashed: peers; dotted: the HTTP floor, the relay floor and direct stdio';

function systemScales(systems: readonly string[]): { color: object; shape: object } {
  const color = systems.map((s, i) => STYLE[s]?.color ?? SPARE_COLORS[i % SPARE_COLORS.length]!);
  const shape = systems.map((s) => STYLE[s]?.shape ?? 'circle');
  return { color: { domain: [...systems], range: color }, shape: { domain: [...systems], range: shape } };
}

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg + '\n';
}

const FONT = { font: 'sans-serif', labelFontSize: 11, titleFontSize: 12 };

/** One row of line panels sharing an x field: each panel its own title and y axis, log-scaled. */
function linePanels(
  points: readonly ChartPoint[],
  panels: ReadonlyArray<{ id: string; title: string; subtitle?: string; y: string }>,
  x: { title: string; log: boolean; values?: number[]; labels?: Record<number, string> },
  systems: readonly string[],
): object[] {
  const { color, shape } = systemScales(systems);
  const families = [...new Set(points.map((p) => p.family))];
  const labelExpr =
    x.labels === undefined ? undefined : Object.entries(x.labels).map(([v, l]) => `datum.value == ${v} ? '${l}' : `).join('') + `datum.label`;
  return panels
    .filter((panel) => points.some((p) => p.panel === panel.id))
    .map((panel) => ({
      title: { text: panel.title, subtitle: panel.subtitle ?? '', fontSize: 13 },
      width: 260,
      height: 200,
      data: { values: points.filter((p) => p.panel === panel.id) },
      mark: { type: 'line', point: { filled: true, size: 70 }, strokeWidth: 2 },
      encoding: {
        x: {
          field: 'x',
          type: 'quantitative',
          title: x.title,
          scale: x.log ? { type: 'log' } : {},
          axis: { values: x.values, ...(labelExpr ? { labelExpr } : {}), grid: true },
        },
        y: { field: 'y', type: 'quantitative', title: panel.y, scale: { type: 'log' }, axis: { grid: true } },
        color: { field: 'system', type: 'nominal', scale: color, legend: { title: 'system', orient: 'bottom', columns: 4, labelLimit: 240, symbolSize: 90 } },
        shape: { field: 'system', type: 'nominal', scale: shape },
        strokeDash: {
          field: 'family',
          type: 'nominal',
          scale: { domain: families, range: families.map((f) => DASH[f] ?? [1, 0]) },
          // Said in the chart's subtitle: a stroke-style legend does not render without a canvas.
          legend: null,
        },
        tooltip: [{ field: 'system' }, { field: 'x' }, { field: 'y' }],
      },
    }));
}

/**
 * Throughput by concurrent clients per load client (top row), and per call by
 * payload size at one client: the system's own CPU, its stdio child's CPU, and
 * p50 latency (bottom row).
 */
export async function renderLoadChart(input: {
  readonly title: string;
  readonly systems: readonly string[];
  readonly throughput: readonly ChartPoint[];
  readonly throughputPanels: ReadonlyArray<{ id: string; title: string }>;
  readonly concurrency: readonly number[];
  readonly perPayload: readonly ChartPoint[];
  readonly payloads: readonly number[];
  readonly payloadLabels: Record<number, string>;
}): Promise<string> {
  const top = linePanels(
    input.throughput,
    input.throughputPanels.map((p) => ({ ...p, y: 'tools/call per second' })),
    { title: 'concurrent clients', log: true, values: [...input.concurrency] },
    input.systems,
  );
  const bottom = linePanels(
    input.perPayload,
    [
      { id: 'server', title: 'gateway CPU per call', subtitle: 'process alone; 1 client, raw', y: 'CPU ms per call' },
      { id: 'child', title: 'stdio child CPU per call', subtitle: '1 client, raw', y: 'CPU ms per call' },
      { id: 'p50', title: 'p50 latency', subtitle: '1 client, raw', y: 'ms' },
    ],
    { title: 'payload (echoed back)', log: true, values: [...input.payloads], labels: input.payloadLabels },
    input.systems,
  );
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: input.title, subtitle: LINE_STYLES, fontSize: 15 },
    config: { axis: FONT, legend: FONT, background: 'white' },
    background: 'white',
    padding: 10,
    vconcat: [{ hconcat: top }, { hconcat: bottom }].filter((row) => row.hconcat.length > 0),
    resolve: { scale: { color: 'shared', shape: 'shared', strokeDash: 'shared' }, legend: { color: 'shared', shape: 'shared', strokeDash: 'shared' } },
  } as unknown as TopLevelSpec;
  return render(spec);
}

/** RSS of each system's process tree with N idle sessions, one panel per N; projected bars lighter. */
export async function renderMemoryChart(input: {
  readonly title: string;
  readonly systems: readonly string[];
  readonly bars: readonly MemoryBar[];
  readonly sessionOrder: readonly string[];
  /** A reference line (8 GiB), MiB. */
  readonly limitMiB: number;
}): Promise<string> {
  const { color } = systemScales(input.systems);
  const systems = input.systems.filter((s) => input.bars.some((b) => b.system === s));
  const data = input.bars.map((b) => ({ ...b, how: b.projected ? 'projected (did not fit this machine)' : 'measured', label: `${Math.round(b.mib)}${b.projected ? ' (projected)' : ''}` }));
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: input.title,
      subtitle: `RSS of the gateway and every process below it, MiB; dashed line: ${Math.round(input.limitMiB / 1024)} GiB`,
      fontSize: 15,
    },
    config: { axis: FONT, legend: FONT, header: { labelFontSize: 13, titleFontSize: 13 }, background: 'white' },
    background: 'white',
    padding: 10,
    data: { values: data },
    facet: {
      column: { field: 'sessions', type: 'ordinal', sort: [...input.sessionOrder], title: null, header: { labelExpr: "datum.value + (datum.value == '1' ? ' idle session' : ' idle sessions')" } },
    },
    spec: {
      width: 260,
      height: 22 * systems.length,
      layer: [
        {
          mark: { type: 'bar' },
          encoding: {
            y: { field: 'system', type: 'nominal', sort: systems, title: null },
            x: { field: 'mib', type: 'quantitative', title: 'MiB' },
            color: { field: 'system', type: 'nominal', scale: color, legend: null },
            opacity: {
              field: 'how',
              type: 'ordinal',
              scale: { domain: ['measured', 'projected (did not fit this machine)'], range: [1, 0.35] },
              legend: { title: null, orient: 'bottom', labelLimit: 400 },
            },
          },
        },
        {
          mark: { type: 'text', align: 'left', dx: 3, fontSize: 10 },
          encoding: {
            y: { field: 'system', type: 'nominal', sort: systems },
            x: { field: 'mib', type: 'quantitative' },
            text: { field: 'label' },
          },
        },
        {
          mark: { type: 'rule', color: '#444', strokeDash: [4, 3] },
          encoding: { x: { datum: input.limitMiB, type: 'quantitative' } },
        },
      ],
    },
  } as unknown as TopLevelSpec;
  return render(spec);
}
