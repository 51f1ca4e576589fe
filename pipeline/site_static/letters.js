/* Sort and filter the table of letters in the page; no server, no library. */
(function () {
  "use strict";
  var table = document.getElementById("letters-table");
  if (!table) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filter = document.getElementById("letters-filter");
  var status = document.getElementById("letters-status");
  document.getElementById("letters-tools").hidden = false;

  function fold(s) {
    return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  rows.forEach(function (row) { row.searchText = fold(row.textContent); });

  function applyFilter() {
    var words = fold(filter.value).split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row) {
      var match = words.every(function (w) { return row.searchText.indexOf(w) !== -1; });
      row.hidden = !match;
      if (match) { shown += 1; }
    });
    status.textContent = shown + " of " + rows.length + " letters shown";
  }

  function key(row, column, type) {
    var cell = row.cells[column];
    var value = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
    if (type === "number") { return value === "" ? -Infinity : parseFloat(value); }
    return fold(value);
  }

  headers.forEach(function (th, column) {
    var button = th.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var type = th.getAttribute("data-type");
      rows.sort(function (a, b) {
        var x = key(a, column, type), y = key(b, column, type);
        var order = x < y ? -1 : (x > y ? 1 : 0);
        if (!ascending) { order = -order; }
        return order || (a.getAttribute("data-order") - b.getAttribute("data-order"));
      });
      rows.forEach(function (row) { tbody.appendChild(row); });
      status.textContent = "Sorted by " + button.textContent + (ascending ? ", ascending" : ", descending");
    });
  });

  filter.addEventListener("input", applyFilter);
  var initial = new URLSearchParams(window.location.search).get("filter");
  if (initial) { filter.value = initial; }
  applyFilter();
}());
