// A run page: shell first, then the trial table as columns; afterwards only what changed
// (`?since=` cursor, `?version=` short-circuit), polled every `poll` ms.
"use strict";
(() => {
  const {esc, fmt, when, getJSON, postJSON, readOnly, poll, meta} = SCINAS;
  const api = `/api/runs/${meta.run}`;
  const COST_COLUMN = {time: "train_time_s", params: "params", flops: "flops", latency: "latency_s"};
  const state = {info: null, rows: new Map(), version: null, cursor: null, predictions: {version: null, steps: {}},
    charts: {}, selected: null, curveFor: null, sort: {key: "number", desc: false}, status: null};

  function merge(table) {
    const cols = table.columns, names = Object.keys(cols);
    for (let i = 0; i < table.count; i++) {
      const row = {};
      for (const name of names) row[name] = cols[name][i];
      state.rows.set(row.id, row);
    }
    state.version = table.version;
    state.cursor = table.cursor;
    state.status = table.run.status;
  }

  const rows = () => Array.from(state.rows.values());
  const better = (a, b) => state.info.maximize ? a > b : a < b;
  const signed = (score) => state.info.maximize ? score : -score;

  function renderSummary() {
    const all = rows(), count = (s) => all.filter((r) => r.status === s).length;
    const scored = all.filter((r) => r.score !== null);
    const best = scored.reduce((b, r) => (b === null || better(r.score, b.score) ? r : b), null);
    const info = state.info;
    document.getElementById("summary").innerHTML = `<span class="status-${esc(state.status)}">${esc(state.status)}</span>
      · ${count("completed")} done · ${count("running")} running · ${count("pending")} pending · ${count("failed")} failed
      · best ${esc(info.score)} ${best ? `${fmt(best.score)} (${esc(best.name)})` : "–"} · started ${when(info.created_at)}`;
    if (!readOnly) {
      document.getElementById("stop-run").hidden = state.status !== "running";
      document.getElementById("resume-run").hidden = state.status === "running" || state.status === "completed";
    }
  }

  function renderTable() {
    const phase = document.getElementById("filter-phase").value, status = document.getElementById("filter-status").value;
    const name = document.getElementById("filter-name").value.trim();
    const {key, desc} = state.sort;
    const shown = rows().filter((r) => (!phase || r.phase === phase) && (!status || r.status === status)
      && (!name || r.name.includes(name)));
    shown.sort((a, b) => {
      const x = a[key], y = b[key];
      if (x === y) return a.id - b.id;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * (desc ? -1 : 1);
    });
    document.getElementById("trial-count").textContent = `${shown.length} of ${state.rows.size} trials`;
    document.querySelector("#trials tbody").innerHTML = shown.map((r) => `<tr data-id="${r.id}"
      class="status-${esc(r.status)}${r.id === state.selected ? " selected" : ""}"><td>${r.number}</td><td>${esc(r.name)}</td>
      <td>${esc(r.phase)}</td><td>${esc(r.status)}</td><td>${fmt(r.step)}</td><td>${fmt(r.score)}</td><td>${fmt(r.test)}</td>
      <td>${fmt(r.train_time_s, 3)}</td><td>${fmt(r.params)}</td><td>${fmt(r.epochs)}</td><td>${when(r.finished_at)}</td></tr>`).join("");
    const failed = rows().filter((r) => r.status === "failed");
    document.getElementById("failures").innerHTML = failed.length ? failed.map((r) =>
      `<li><b>${esc(r.name)}</b>: ${esc(r.failure_reason || "no reason recorded")}</li>`).join("") : '<li class="muted">none</li>';
  }

  function scoredSearch() {
    return rows().filter((r) => r.score !== null && r.phase !== "final").sort((a, b) => a.id - b.id);
  }

  function renderPareto() {
    const costs = state.info.costs.length ? state.info.costs : ["time"];
    const box = document.getElementById("pareto");
    costs.forEach((cost, c) => {
      let element = document.getElementById(`pareto-${cost}`);
      if (!element) {
        element = Object.assign(document.createElement("div"), {id: `pareto-${cost}`});
        box.appendChild(element);
      }
      const column = COST_COLUMN[cost] || cost;
      const done = scoredSearch().filter((r) => r[column] !== null);
      const x = done.map((r) => r[column]), y = done.map((r) => r.score);
      const keep = CHARTS.front(x, y.map(signed));
      CHARTS.draw(state.charts, `pareto-${cost}`, element,
        [CHARTS.points("trials", CHARTS.COLOURS[c], 4), CHARTS.line("front", "#222222", {points: {show: true, size: 8}})],
        CHARTS.align([{x, y}, {x: keep.map((i) => x[i]), y: keep.map((i) => y[i])}]),
        {xLabel: cost, yLabel: state.info.score});
    });
    const done = scoredSearch();
    const data = [done.map((_, i) => i + 1)];
    const hvSeries = costs.map((cost, c) => {
      const column = COST_COLUMN[cost] || cost;
      data.push(CHARTS.hypervolumeHistory(done.map((r) => r[column] ?? 0), done.map((r) => signed(r.score))));
      return CHARTS.line(`score vs ${cost}`, CHARTS.COLOURS[c]);
    });
    CHARTS.draw(state.charts, "hv", document.getElementById("hypervolume"), hvSeries, data,
      {xLabel: "completed trials", yLabel: "hypervolume (share of box)"});
  }

  function renderPredictions() {
    const byName = new Map(rows().map((r) => [r.name, r]));
    const steps = Object.keys(state.predictions.steps);
    const cost = state.info.costs[0];
    for (const [key, element, predicted, measured] of [
      ["pred-score", "predicted-score", "predicted_score", (r) => r.score],
      ["pred-cost", "predicted-cost", cost ? `predicted_${cost}` : null, (r) => r[COST_COLUMN[cost] || cost]]]) {
      const sets = [], series = [];
      let low = Infinity, high = -Infinity;
      steps.forEach((step, s) => {
        const table = state.predictions.steps[step], x = [], y = [];
        (table[predicted] || []).forEach((p, i) => {
          const row = byName.get(table.name[i]);
          const m = row ? measured(row) : null;
          if (p !== null && m !== null && m !== undefined) { x.push(p); y.push(m); low = Math.min(low, p, m); high = Math.max(high, p, m); }
        });
        sets.push({x, y});
        series.push(CHARTS.points(step, CHARTS.COLOURS[s % CHARTS.COLOURS.length], 6));
      });
      if (Number.isFinite(low)) { sets.push({x: [low, high], y: [low, high]}); series.push(CHARTS.line("measured = predicted", "#999999")); }
      CHARTS.draw(state.charts, key, document.getElementById(element), series, sets.length ? CHARTS.align(sets) : [[]],
        {xLabel: "predicted", yLabel: "measured"});
    }
  }

  async function loadCurve(id) {
    const row = state.rows.get(id);
    if (!row) return;
    state.selected = id;
    state.curveFor = {id, status: row.status, epochs: row.epochs};
    document.getElementById("curve-name").textContent = row.name;
    const curve = await getJSON(`${api}/trials/${id}/curve`);
    const metric = [curve.monitor, `val_${state.info.score}`, "val_loss", "loss"].find((m) => m && curve.metrics[m]);
    const sets = [{x: curve.epoch, y: curve.metrics[metric] || []}];
    const series = [CHARTS.line(metric || "loss", CHARTS.COLOURS[0], {points: {show: true, size: 5}})];
    const train = metric ? metric.replace(/^val_/, "") : null;
    if (train && train !== metric && curve.metrics[train]) {
      sets.push({x: curve.epoch, y: curve.metrics[train]});
      series.push(CHARTS.line(train, CHARTS.COLOURS[0] + "66"));
    }
    if (curve.prediction.some((p) => p !== null)) {
      sets.push({x: curve.epoch, y: curve.prediction});
      series.push(CHARTS.line("predicted final", CHARTS.COLOURS[3], {dash: [4, 4]}));
    }
    let fitted = {epoch: [], value: []};
    if (curve.curve && curve.monitor === metric) {
      fitted = await getJSON(`${api}/trials/${id}/fit`).catch(() => fitted);
    }
    if (fitted.epoch.length) {
      sets.push({x: fitted.epoch, y: fitted.value});
      series.push(CHARTS.line(`fitted ${curve.curve}`, CHARTS.COLOURS[1]));
    }
    const stop = curve.converged_epoch;
    CHARTS.draw(state.charts, `curve-${series.length}-${id}`, document.getElementById("curve"), series, CHARTS.align(sets),
      {xLabel: "epoch", yLabel: metric || "loss", hooks: CHARTS.marker(stop, "#d62728")});
    for (const key of Object.keys(state.charts)) {
      if (key.startsWith("curve-") && key !== `curve-${series.length}-${id}`) { state.charts[key].destroy(); delete state.charts[key]; }
    }
  }

  function bestOrLatest() {
    const scored = scoredSearch();
    const best = scored.reduce((b, r) => (b === null || better(r.score, b.score) ? r : b), null);
    return best ? best.id : (rows().length ? Math.max(...state.rows.keys()) : null);
  }

  function render() {
    renderSummary();
    renderTable();
    renderPareto();
    renderPredictions();
  }

  async function refreshPredictions(version) {
    if (version === state.predictions.version) return;
    state.predictions = await getJSON(`${api}/predictions`);
    renderPredictions();
  }

  async function pollOnce() {
    const url = `${api}/trials?since=${encodeURIComponent(state.cursor)}&version=${encodeURIComponent(state.version)}`;
    const table = await getJSON(url);
    if (table.changed === false) return;
    merge(table);
    render();
    await refreshPredictions(table.predictions_version);
    const shown = state.curveFor && state.rows.get(state.curveFor.id);
    if (shown && (shown.status !== state.curveFor.status || shown.epochs !== state.curveFor.epochs)) await loadCurve(shown.id);
    else if (!state.curveFor && state.rows.size) await loadCurve(bestOrLatest());
  }

  async function loop() {
    try { await pollOnce(); document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1); }
    catch (error) { document.getElementById("summary").textContent = `cannot reach the dashboard: ${error.message}`; }
    setTimeout(loop, poll);
  }

  async function boot() {
    const [info, table] = await Promise.all([getJSON(api), getJSON(`${api}/trials`)]);
    state.info = info;
    merge(table);
    document.getElementById("files").innerHTML = info.files.map((f) =>
      `<a href="/runs/${esc(meta.run)}/files/${esc(f.path)}" target="_blank">${esc(f.label)}</a>`).join(" · ");
    render();
    document.body.dataset.rendered = String(performance.now());
    refreshPredictions(table.predictions_version);
    const first = bestOrLatest();
    if (first !== null) loadCurve(first);
    setTimeout(loop, poll);
  }

  document.querySelector("#trials thead").addEventListener("click", (event) => {
    const key = event.target.dataset.key;
    if (!key) return;
    state.sort = {key, desc: state.sort.key === key ? !state.sort.desc : false};
    renderTable();
  });
  document.querySelector("#trials tbody").addEventListener("click", (event) => {
    const tr = event.target.closest("tr");
    if (tr) { loadCurve(Number(tr.dataset.id)); renderTable(); }
  });
  for (const id of ["filter-phase", "filter-status", "filter-name"]) {
    document.getElementById(id).addEventListener("input", renderTable);
  }
  if (!readOnly) {
    const act = async (action) => {
      const box = document.getElementById("action-message");
      try {
        const answer = await postJSON(`/api/control/${action}`, {run: meta.run});
        box.textContent = action === "stop" ? "interrupt sent; the run stops after saving its state"
          : `resume queued (job ${answer.job.id})`;
      } catch (error) { box.textContent = error.message; }
    };
    document.getElementById("stop-run").addEventListener("click", () => act("stop"));
    document.getElementById("resume-run").addEventListener("click", () => act("resume"));
  }
  boot().catch((error) => { document.getElementById("summary").textContent = `cannot read this run: ${error.message}`; });
})();
