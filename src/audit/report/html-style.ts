// The HTML report's stylesheet: inline, system fonts only, nine series colours, print-friendly.

const PALETTE = ['#2f6db5', '#e08a1e', '#3a9a5b', '#c2413b', '#7d5ab5', '#8c6d4f', '#d064a8', '#6f7f8f', '#b5b02f'];

export const REPORT_CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2430; margin: 0; background: #f6f7f9; }
main { max-width: 1000px; margin: 0 auto; padding: 24px; }
header h1 { font-size: 22px; margin: 0 0 4px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 12px 18px; margin: 16px 0; }
h2 { font-size: 17px; margin: 4px 0 10px; } h3 { font-size: 14px; margin: 14px 0 4px; }
.note, .empty { color: #5b6573; } .n { font-variant-numeric: tabular-nums; }
.summary-figures { display: flex; gap: 28px; flex-wrap: wrap; }
.summary-figures div { font-size: 12px; color: #5b6573; } .summary-figures .n { display: block; font-size: 22px; color: #1d2430; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #edf0f3; text-align: left; }
th.num, td.n { text-align: right; } td.name { word-break: break-all; max-width: 340px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f1f3f5; padding: 0 3px; border-radius: 3px; word-break: break-all; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg .grid { stroke: #e3e6ea; } svg .axis, svg .label { font-size: 11px; fill: #5b6573; } svg .label { fill: #1d2430; }
svg .deny { fill: #c2413b; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
.anomalies { padding-left: 20px; } .anomaly { margin-bottom: 10px; } .anomaly p { margin: 2px 0; }
.kind { font-weight: 600; font-family: ui-monospace, monospace; } .actor { font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0 12px; margin: 4px 0; font-size: 12px; } dt { color: #5b6573; } dd { margin: 0; }
.verdict { font-size: 18px; font-weight: 700; margin: 4px 0; }
.status-intact .verdict { color: #23783f; } .status-broken .verdict, .status-no_trail .verdict { color: #b3261e; } .status-empty .verdict { color: #8a6d00; }
.status-broken { border-color: #b3261e; border-width: 2px; }
${PALETTE.map((c, i) => `.c${i} { fill: ${c}; background: ${c}; }`).join('\n')}
@media print { body { background: #fff; } section { break-inside: avoid; } }
`;
