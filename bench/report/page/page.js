// ipiqa-bench report: sorting, filtering and expanding the leaderboard, and the scatter viewer.
// Inline in index.html; it loads nothing.
(function () {
  "use strict";

  function escapeText(text) {
    return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  }

  // --- sorting: a header click sorts its table by that column; a details row moves with its row
  function compare(a, b, numeric, ascending) {
    if (a === "" || b === "") return (a === "") - (b === ""); // missing values last either way
    const order = numeric ? Number(a) - Number(b) : a.localeCompare(b);
    return ascending ? order : -order;
  }

  function sortBy(table, index, header) {
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.from(header.parentNode.cells).forEach((h) => h.setAttribute("aria-sort", "none"));
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const numeric = header.dataset.type === "number";
    const body = table.tBodies[0];
    const pairs = Array.from(body.querySelectorAll("tr.row")).map((row) => [row, row.nextElementSibling]);
    pairs.sort((a, b) => compare(a[0].cells[index].dataset.sort, b[0].cells[index].dataset.sort, numeric, ascending));
    pairs.forEach(([row, details]) => { body.appendChild(row); body.appendChild(details); });
  }

  function onActivate(element, action) {
    element.addEventListener("click", action);
    element.addEventListener("keydown", (event) => {
      if (event.target === element && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        action(event);
      }
    });
  }

  document.querySelectorAll("table.leaderboard").forEach((table) => {
    Array.from(table.tHead.rows[0].cells).forEach((header, index) => {
      onActivate(header, () => sortBy(table, index, header));
    });
  });

  // --- expanding: a row click shows its protocol and files
  function toggle(row, open) {
    const details = row.nextElementSibling;
    const show = open === undefined ? details.hidden : open;
    details.hidden = !show;
    row.setAttribute("aria-expanded", String(show));
  }

  const rows = Array.from(document.querySelectorAll("table.leaderboard tr.row"));
  rows.forEach((row) => onActivate(row, (event) => { if (!event.target.closest("a")) toggle(row); }));
  document.getElementById("expand-all").addEventListener("click", () => rows.forEach((r) => toggle(r, true)));
  document.getElementById("collapse-all").addEventListener("click", () => rows.forEach((r) => toggle(r, false)));

  // --- filtering: every select must match a row's data attribute ("" matches all)
  const filters = Array.from(document.querySelectorAll("select.filter"));
  const count = document.getElementById("shown-count");
  function applyFilters() {
    let shown = 0;
    rows.forEach((row) => {
      const keep = filters.every((f) => !f.value || row.dataset[f.dataset.filter] === f.value);
      row.classList.toggle("filtered-out", !keep);
      row.nextElementSibling.classList.toggle("filtered-out", !keep);
      shown += keep ? 1 : 0;
    });
    count.textContent = `${shown} of ${rows.length} rows shown`;
  }
  filters.forEach((f) => f.addEventListener("change", applyFilters));
  applyFilters();

  // --- the scatter of a chosen row: pooled test predictions against MOS, and the fitted logistic
  const data = JSON.parse(document.getElementById("scatter-data").textContent);
  const choice = document.getElementById("scatter-choice");
  const plot = document.getElementById("scatter");

  function niceTicks(low, high, count) {
    if (!(high > low)) { low -= 0.5; high += 0.5; }
    const raw = (high - low) / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
    const ticks = [];
    for (let v = Math.floor(low / step) * step; v <= high + step * 1e-9; v += step) ticks.push(v);
    if (ticks[ticks.length - 1] < high) ticks.push(ticks[ticks.length - 1] + step);
    const decimals = Math.max(0, -Math.floor(Math.log10(step)));
    return { ticks, text: (v) => v.toFixed(decimals) };
  }

  function text(x, y, content, anchor, extra) {
    return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="12" text-anchor="${anchor || "start"}" ` +
      `fill="#222" ${extra || ""}>${escapeText(content)}</text>`;
  }

  function draw(key) {
    const d = data[key];
    if (!d) { plot.innerHTML = ""; return; }
    const W = 680, H = 420, left = 64, right = W - 20, top = 52, bottom = H - 64;
    const points = d.pred.map((p, i) => [p, d.mos[i]]).filter(([p, m]) => p !== null && m !== null);
    const xs = niceTicks(Math.min(...points.map((p) => p[0])), Math.max(...points.map((p) => p[0])), 6);
    const ys = niceTicks(Math.min(...points.map((p) => p[1])), Math.max(...points.map((p) => p[1])), 5);
    const x0 = xs.ticks[0], x1 = xs.ticks[xs.ticks.length - 1], y0 = ys.ticks[0], y1 = ys.ticks[ys.ticks.length - 1];
    const sx = (v) => left + (v - x0) / ((x1 - x0) || 1) * (right - left);
    const sy = (v) => bottom - (v - y0) / ((y1 - y0) || 1) * (bottom - top);
    const out = [text(left, 18, d.title, "start", 'font-weight="bold"'), text(left, 36, d.note)];
    xs.ticks.forEach((v) => {
      out.push(`<line x1="${sx(v)}" x2="${sx(v)}" y1="${top}" y2="${bottom}" stroke="#ddd"/>`);
      out.push(text(sx(v), bottom + 16, xs.text(v), "middle"));
    });
    ys.ticks.forEach((v) => {
      out.push(`<line x1="${left}" x2="${right}" y1="${sy(v)}" y2="${sy(v)}" stroke="#ddd"/>`);
      out.push(text(left - 6, sy(v) + 4, ys.text(v), "end"));
    });
    out.push(text((left + right) / 2, bottom + 36, d.x_label, "middle"));
    out.push(text(16, (top + bottom) / 2, d.y_label, "middle", `transform="rotate(-90 16 ${(top + bottom) / 2})"`));
    points.forEach(([p, m]) => {
      out.push(`<circle cx="${sx(p).toFixed(1)}" cy="${sy(m).toFixed(1)}" r="2.2" fill="#2b6cb0" fill-opacity="0.35"/>`);
    });
    let legend = `test images, all splits (n = ${points.length})`;
    if (d.curve) {
      const path = d.curve.map(([p, m], i) => `${i ? "L" : "M"}${sx(p).toFixed(1)},${sy(m).toFixed(1)}`).join(" ");
      out.push(`<path d="${path}" fill="none" stroke="#c53030" stroke-width="2"/>`);
      legend += "; red: 4-parameter logistic fit";
    } else {
      legend += `; no logistic fit (${d.no_fit})`;
    }
    out.push(text((left + right) / 2, H - 6, legend, "middle"));
    plot.innerHTML = out.join("");
  }

  choice.addEventListener("change", () => draw(choice.value));
  document.querySelectorAll("a.show-scatter").forEach((link) => link.addEventListener("click", () => {
    choice.value = link.dataset.scatter;
    draw(choice.value);
  }));
  draw(choice.value);
})();
