// threatintel console: sorts a table.sortable when a header is clicked, and updates a page
// showing a background import in place (the pages read and work without it: the import page
// then reloads itself). Part of threatintel, Apache-2.0.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("table.sortable")) {
    const headers = table.querySelectorAll("thead th");
    headers.forEach((th, column) => {
      th.tabIndex = 0;
      const sort = () => {
        const numeric = th.dataset.sort === "number";
        const descending = th.getAttribute("aria-sort") !== "descending";
        headers.forEach((h) => h.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        const body = table.tBodies[0];
        const key = (row) => {
          const cell = row.cells[column];
          const text = cell.dataset.value ?? cell.textContent.trim();
          return numeric ? Number(text) : text.toLowerCase();
        };
        const rows = Array.from(body.rows).sort((a, b) => {
          const [x, y] = [key(a), key(b)];
          const order = x < y ? -1 : x > y ? 1 : 0;
          return descending ? -order : order;
        });
        body.append(...rows);
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (e) => { if (e.key === "Enter") sort(); });
    });
  }
  const progress = document.querySelector("[data-poll]");
  if (progress) {
    const poll = async () => {
      try {
        const answer = await fetch(progress.dataset.poll, { credentials: "same-origin" });
        const status = await answer.json();
        if (status.done) {
          location.reload();
          return;
        }
        for (const field of progress.querySelectorAll("[data-field]")) {
          field.textContent = status[field.dataset.field];
        }
        const bar = progress.querySelector("progress");
        bar.max = Math.max(status.bytes_total, 1);
        bar.value = status.bytes_read;
      } catch (e) {
        // A failed poll is tried again; the page's own counts stay as they were.
      }
      setTimeout(poll, 500);
    };
    setTimeout(poll, 500);
  }
});
