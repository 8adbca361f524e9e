// Small inline-SVG charts: a bar chart and a line chart. Each figure carries a visible caption,
// an SVG named by its <title> and described by its <desc> (once each), and a visually hidden
// data table. A chart is drawn at the width its figure has (one SVG unit per CSS pixel), so its
// text keeps its CSS size on a phone; the page redraws when the width changes.

const SVG = "http://www.w3.org/2000/svg";
const numbers = new Intl.NumberFormat();
let chartCount = 0;

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text != null) node.textContent = text;
  return node;
}

function html(tag, props = {}, text) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  if (text != null) node.textContent = text;
  return node;
}

// Round a step up to 1, 2, 2.5 or 5 × 10^k so axis labels are readable.
function niceStep(raw) {
  if (raw <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].find((m) => m * power >= raw) * power;
  return Math.max(1, step);
}

function yAxis(maxValue, ticks = 4) {
  const step = niceStep(maxValue / ticks);
  const top = Math.max(step, Math.ceil(maxValue / step) * step);
  const values = [];
  for (let v = 0; v <= top + step / 2; v += step) values.push(v);
  return { top, values };
}

function compact(n) {
  return new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 }).format(n);
}

function dataTable(caption, headers, rows) {
  // The wrapper hides the table: a table's own height never shrinks below its rows.
  const wrapper = html("div", { className: "visually-hidden" });
  const table = html("table");
  wrapper.append(table);
  table.append(html("caption", {}, caption));
  const head = table.createTHead().insertRow();
  for (const h of headers) head.append(html("th", { scope: "col" }, h));
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    row.forEach((cell, i) => tr.append(html(i === 0 ? "th" : "td", i === 0 ? { scope: "row" } : {}, cell)));
  }
  return wrapper;
}

// The width to draw at: the figure's content width, or `fallback` while it is not laid out.
function drawWidth(figure, fallback) {
  const style = getComputedStyle(figure);
  const inner = figure.clientWidth - parseFloat(style.paddingLeft || "0") - parseFloat(style.paddingRight || "0");
  return inner > 0 ? Math.max(240, Math.floor(inner)) : fallback;
}

function frame(figure, title, description, width, height) {
  chartCount += 1;
  const titleId = `chart-title-${chartCount}`;
  const descId = `chart-desc-${chartCount}`;
  // Named by the title, described by the desc: naming it by both read the description twice.
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-labelledby": titleId,
    "aria-describedby": descId,
    preserveAspectRatio: "xMidYMid meet",
  });
  root.append(svg("title", { id: titleId }, title), svg("desc", { id: descId }, description));
  figure.replaceChildren(html("figcaption", {}, title), root);
  return root;
}

function gridlines(root, axis, plot, format) {
  for (const value of axis.values) {
    const y = plot.bottom - (value / axis.top) * (plot.bottom - plot.top);
    root.append(
      svg("line", { x1: plot.left, x2: plot.right, y1: y, y2: y, class: value ? "grid" : "axis" }),
      svg("text", { x: plot.left - 6, y: y + 4, "text-anchor": "end", class: "tick" }, format(value)),
    );
  }
}

/**
 * Vertical bars. data: [{label, value, tick?, subtick?, className?}]: `tick` (and a second line,
 * `subtick`) replace the label under the bar when it is too long to fit.
 */
export function barChart(figure, { title, description, data, labelHeader = "Label", valueHeader = "Value", format = (n) => numbers.format(n) }) {
  if (!data.length) {
    figure.replaceChildren(html("figcaption", {}, title), html("p", { className: "muted" }, "No data yet."));
    return;
  }
  const width = drawWidth(figure, 480);
  const height = 260;
  const plot = { left: 56, right: width - 8, top: 22, bottom: height - 34 };
  const root = frame(figure, title, description, width, height);
  const axis = yAxis(Math.max(...data.map((d) => d.value)));
  gridlines(root, axis, plot, compact);
  const band = (plot.right - plot.left) / data.length;
  const barWidth = Math.min(64, band * 0.64);
  // A label needs about 40px; values above the bars need about 34px of band.
  const everyLabel = Math.max(Math.ceil(data.length / 12), Math.ceil(data.length / Math.max(1, Math.floor((plot.right - plot.left) / 40))));
  const showValues = data.length <= 12 && band >= 34;
  data.forEach((d, i) => {
    const x = plot.left + band * i + (band - barWidth) / 2;
    const h = (d.value / axis.top) * (plot.bottom - plot.top);
    const bar = svg("rect", {
      x,
      y: plot.bottom - h,
      width: barWidth,
      height: Math.max(h, d.value ? 1 : 0),
      class: `bar ${d.className || ""}`.trim(),
      "data-label": d.label,
    });
    bar.append(svg("title", {}, `${d.label}: ${format(d.value)}`));
    root.append(bar);
    if (showValues) {
      root.append(svg("text", { x: x + barWidth / 2, y: plot.bottom - h - 5, "text-anchor": "middle", class: data.length > 6 ? "value crowded" : "value" }, compact(d.value)));
    }
    if (i % everyLabel === 0) {
      const cx = x + barWidth / 2;
      root.append(svg("text", { x: cx, y: plot.bottom + 15, "text-anchor": "middle", class: "label" }, d.tick || d.label));
      if (d.subtick) root.append(svg("text", { x: cx, y: plot.bottom + 29, "text-anchor": "middle", class: "tick" }, d.subtick));
    }
  });
  figure.append(dataTable(title, [labelHeader, valueHeader], data.map((d) => [d.label, format(d.value)])));
}

/**
 * Lines over a shared x axis. labels: x values (text); series: [{name, values, className}].
 */
export function lineChart(figure, { title, description, labels, series, labelFormat = (s) => s }) {
  if (!labels.length) {
    figure.replaceChildren(html("figcaption", {}, title), html("p", { className: "muted" }, "No data yet."));
    return;
  }
  const width = drawWidth(figure, 960);
  const height = 280;
  const plot = { left: 56, right: width - 12, top: 14, bottom: height - 30 };
  const root = frame(figure, title, description, width, height);
  const axis = yAxis(Math.max(1, ...series.flatMap((s) => s.values)));
  gridlines(root, axis, plot, compact);
  const step = labels.length > 1 ? (plot.right - plot.left) / (labels.length - 1) : 0;
  const xAt = (i) => (labels.length > 1 ? plot.left + step * i : (plot.left + plot.right) / 2);
  const yAt = (v) => plot.bottom - (v / axis.top) * (plot.bottom - plot.top);
  // A date label needs about 64px.
  const every = Math.max(1, Math.ceil(labels.length / 8), Math.ceil(labels.length / Math.max(1, Math.floor((plot.right - plot.left) / 64))));
  labels.forEach((label, i) => {
    if (i % every !== 0) return;
    root.append(svg("text", { x: xAt(i), y: plot.bottom + 18, "text-anchor": "middle", class: "label" }, labelFormat(label)));
  });
  for (const s of series) {
    const points = s.values.map((v, i) => `${xAt(i).toFixed(1)},${yAt(v).toFixed(1)}`).join(" ");
    const line = svg(labels.length > 1 ? "polyline" : "circle", labels.length > 1
      ? { points, class: `line ${s.className}` }
      : { cx: xAt(0), cy: yAt(s.values[0]), r: 4, class: `dot ${s.className}` });
    line.append(svg("title", {}, `${s.name}: ${numbers.format(s.values.reduce((a, b) => a + b, 0))} in total`));
    root.append(line);
  }
  const legend = html("ul", { className: "legend" });
  for (const s of series) {
    const item = html("li");
    const swatch = svg("svg", { viewBox: "0 0 28 10", width: 28, height: 10, "aria-hidden": "true" });
    swatch.append(svg("line", { x1: 1, x2: 27, y1: 5, y2: 5, class: `line ${s.className}` }));
    item.append(swatch, document.createTextNode(` ${s.name}`));
    legend.append(item);
  }
  figure.append(legend);
  figure.append(
    dataTable(
      title,
      ["Date", ...series.map((s) => s.name)],
      labels.map((label, i) => [label, ...series.map((s) => numbers.format(s.values[i]))]),
    ),
  );
}
