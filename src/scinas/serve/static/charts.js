// Charts of the run page, drawn with uPlot (vendor/, MIT licence): Pareto fronts, hypervolume,
// predicted vs measured, learning curves.  Fronts and hypervolume are computed here from the
// trial columns, so the server only ever sends the table.
"use strict";
const CHARTS = (() => {
  const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
  const points = (label, colour, size = 5) => ({label, stroke: colour, fill: colour + "99", paths: () => null,
    points: {show: true, size, fill: colour + "99"}});
  const line = (label, colour, extra = {}) => ({label, stroke: colour, width: 2, spanGaps: true,
    points: {show: false}, ...extra});

  function width(element) { return Math.max(280, element.clientWidth || 420); }

  // Draw (or redraw) a uPlot chart into `element`; data = [x, ...series] with x ascending.
  function draw(store, key, element, series, data, options = {}) {
    const old = store[key];
    if (old && old.series.length === series.length + 1) {
      old.setData(data);
      return old;
    }
    if (old) old.destroy();
    element.textContent = "";
    if (!data[0].length) {
      element.innerHTML = '<p class="muted empty">no data yet</p>';
      delete store[key];
      return null;
    }
    const chart = new uPlot({width: width(element), height: 240, legend: {live: false},
      scales: {x: {time: false}}, cursor: {drag: {x: true, y: false}},
      axes: [{label: options.xLabel || ""}, {label: options.yLabel || "", size: 60}],
      series: [{label: options.xLabel || "x"}, ...series], hooks: options.hooks || {}}, data, element);
    store[key] = chart;
    return chart;
  }

  // Indices of the 2-D front (score better = larger after `sign`, cost smaller), sorted by cost.
  function front(costs, scores) {
    const order = costs.map((_, i) => i).sort((a, b) => costs[a] - costs[b] || scores[b] - scores[a]);
    const kept = [];
    let best = -Infinity;
    for (const i of order) if (scores[i] > best) { kept.push(i); best = scores[i]; }
    return kept;
  }

  // Hypervolume of the first k points for every k (2-D, normalised to the box of all points).
  function hypervolumeHistory(costs, scores) {
    const n = costs.length;
    if (!n) return [];
    const maxCost = Math.max(...costs), minCost = Math.min(...costs);
    const maxScore = Math.max(...scores), minScore = Math.min(...scores);
    const refCost = maxCost + 0.05 * (maxCost - minCost || 1), refScore = minScore - 0.05 * (maxScore - minScore || 1);
    const box = (refCost - minCost) * (maxScore - refScore) || 1;
    const frontier = [];  // [cost, score] sorted by cost, scores increasing with cost
    const history = [];
    let area = 0;
    const recompute = () => {
      let total = 0, previousScore = refScore;
      for (const [c, s] of frontier) { total += (refCost - c) * (s - previousScore); previousScore = s; }
      return total;
    };
    for (let k = 0; k < n; k++) {
      const c = costs[k], s = scores[k];
      const dominated = frontier.some(([fc, fs]) => fc <= c && fs >= s);
      if (!dominated) {
        for (let i = frontier.length - 1; i >= 0; i--) {
          if (frontier[i][0] >= c && frontier[i][1] <= s) frontier.splice(i, 1);
        }
        frontier.push([c, s]);
        frontier.sort((a, b) => a[0] - b[0]);
        area = recompute();
      }
      history.push(area / box);
    }
    return history;
  }

  // Merge several (x, y) point sets onto one ascending x axis (uPlot's aligned data).
  function align(sets) {
    const rows = [];
    sets.forEach((set, s) => set.x.forEach((x, i) => rows.push([x, s, set.y[i]])));
    rows.sort((a, b) => a[0] - b[0]);
    const data = [rows.map((r) => r[0]), ...sets.map(() => new Array(rows.length).fill(null))];
    rows.forEach((r, i) => { data[r[1] + 1][i] = r[2]; });
    return data;
  }

  // A vertical marker at x = value (the epoch where a learning curve stopped).
  function marker(value, colour) {
    return {draw: [(u) => {
      if (value === null || value === undefined) return;
      const x = u.valToPos(value, "x", true);
      const {ctx} = u;
      ctx.save();
      ctx.strokeStyle = colour;
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.restore();
    }]};
  }
  return {COLOURS, points, line, draw, front, hypervolumeHistory, align, marker};
})();
