// Shared helpers of the scinas dashboard pages (no framework: the pages are small).
"use strict";
const SCINAS = (() => {
  const meta = document.querySelector('meta[name="scinas"]').dataset;
  const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;"}[c]));
  async function getJSON(url) {
    const response = await fetch(url, {headers: {Accept: "application/json"}, cache: "no-store"});
    const body = await response.json().catch(() => ({error: `HTTP ${response.status}`}));
    if (!response.ok) throw Object.assign(new Error(body.error || `HTTP ${response.status}`), {body});
    return body;
  }
  async function postJSON(url, value) {
    const response = await fetch(url, {method: "POST", body: JSON.stringify(value),
      headers: {"Content-Type": "application/json", "X-Scinas-CSRF": meta.csrf}});
    const body = await response.json().catch(() => ({error: `HTTP ${response.status}`}));
    if (!response.ok) throw Object.assign(new Error(body.error || `HTTP ${response.status}`), {body});
    return body;
  }
  function fmt(value, digits = 4) {
    if (value === null || value === undefined || value === "") return "";
    if (typeof value !== "number") return esc(value);
    if (Number.isInteger(value) && Math.abs(value) < 1e6) return String(value);
    return Math.abs(value) >= 1e4 ? value.toExponential(2) : value.toPrecision(digits);
  }
  const when = (iso) => iso ? esc(iso.replace("T", " ").slice(0, 19)) : "";
  return {meta, esc, getJSON, postJSON, fmt, when, readOnly: meta.readonly === "true", poll: Number(meta.poll) || 1000};
})();
