// The runs page: every run of the results folder, and (unless read-only) the start form and the queue.
"use strict";
(() => {
  const {esc, fmt, when, getJSON, postJSON, readOnly} = SCINAS;

  async function refreshRuns() {
    const data = await getJSON("/api/runs");
    const note = document.getElementById("runs-note");
    if (!data.exists) note.textContent = `The results folder ${data.results} does not exist yet: no runs.`;
    else if (!data.runs.length) note.textContent = `No runs in ${data.results} yet.`;
    else note.textContent = `${data.runs.length} run(s) in ${data.results}`;
    document.querySelector("#runs tbody").innerHTML = data.runs.map((r) => {
      if (r.status === "unreadable") {
        return `<tr class="unreadable"><td>${esc(r.experiment)}</td><td>${esc(r.run)}</td>
          <td>unreadable</td><td colspan="6" class="error">${esc(r.error)}</td></tr>`;
      }
      const c = r.counts;
      return `<tr data-run="${esc(r.path)}"><td>${esc(r.experiment)}</td>
        <td><a href="/runs/${esc(r.path)}">${esc(r.run)}</a></td><td class="status-${esc(r.status)}">${esc(r.status)}</td>
        <td>${c.completed}</td><td>${c.running}</td><td>${c.failed}</td><td>${fmt(r.best)} <span class="muted">${esc(r.score)}</span></td>
        <td>${when(r.created_at)}</td><td><a href="/runs/${esc(r.path)}">open</a></td></tr>`;
    }).join("");
  }

  async function refreshJobs() {
    const data = await getJSON("/api/jobs");
    const select = document.getElementById("experiment");
    if (select && !select.options.length) {
      select.innerHTML = data.experiments.map((e) => `<option>${esc(e)}</option>`).join("");
    }
    document.querySelector("#jobs tbody").innerHTML = data.jobs.map((j) => {
      const what = j.kind === "resume" ? `resume ${esc(j.run)}` : `${esc(j.experiment)} ${esc(j.overrides.join(" "))}`;
      const action = j.state === "queued" ? "cancel" : j.state === "running" ? "stop" : "";
      return `<tr data-job="${esc(j.id)}"><td>${esc(j.id)}</td><td>${what}</td><td class="status-${esc(j.state)}">${esc(j.state)}</td>
        <td>${j.run ? `<a href="/runs/${esc(j.run)}">${esc(j.run)}</a>` : ""}</td><td>${when(j.created_at)}</td>
        <td class="error">${esc(j.message || "")}</td>
        <td>${action ? `<button data-stop-job="${esc(j.id)}">${action}</button>` : ""}</td></tr>`;
    }).join("");
  }

  async function tick() {
    try {
      await refreshRuns();
      if (!readOnly) await refreshJobs();
    } catch (error) {
      document.getElementById("runs-note").textContent = `cannot reach the dashboard: ${error.message}`;
    }
  }

  if (!readOnly) {
    document.getElementById("start-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const box = document.getElementById("start-error");
      box.hidden = true;
      try {
        await postJSON("/api/control/start", {experiment: document.getElementById("experiment").value,
          overrides: document.getElementById("overrides").value});
        await refreshJobs();
      } catch (error) {
        box.textContent = error.message;
        box.hidden = false;
      }
    });
    document.getElementById("jobs").addEventListener("click", async (event) => {
      const id = event.target.dataset.stopJob;
      if (!id) return;
      try { await postJSON("/api/control/stop", {job: id}); } catch (error) { alert(error.message); }
      await refreshJobs();
    });
  }
  tick();
  setInterval(tick, 2000);
})();
