/* Full-text search over an index prebuilt at site build (static/search-index.js).
   Tokens are folded as at build time: NFD, diacritics removed, lower case. */
(function () {
  "use strict";
  var index = window.SEARCH_INDEX;
  var form = document.getElementById("search-form");
  var input = document.getElementById("q");
  var list = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  if (!index || !form) { return; }
  var terms = Object.keys(index.terms);
  var averageLength = index.docs.reduce(function (sum, doc) { return sum + doc[4]; }, 0) /
    Math.max(index.docs.length, 1);
  // BM25: rare words weigh more, and a long chapter does not outrank a letter by size alone.
  function bm25(count, length, documents) {
    var idf = Math.log(1 + (index.docs.length - documents + 0.5) / (documents + 0.5));
    return idf * count * 2.2 / (count + 1.2 * (0.25 + 0.75 * length / averageLength));
  }
  var kinds = { letter: "Letter", text: "Text", note: "Note" };

  function fold(s) {
    return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  function tokens(s) {
    return fold(s).match(/[\p{L}\p{N}]+/gu) || [];
  }

  function search(query) {
    var words = tokens(query);
    if (!words.length) { return []; }
    var scores = null;
    words.forEach(function (word) {
      var found = {};
      var keys = word.length >= 3
        ? terms.filter(function (t) { return t.lastIndexOf(word, 0) === 0; })
        : (index.terms[word] ? [word] : []);
      keys.forEach(function (term) {
        var postings = index.terms[term];
        var weight = term === word ? 2 : 1;
        for (var i = 0; i < postings.length; i += 2) {
          var doc = postings[i];
          found[doc] = (found[doc] || 0) +
            weight * bm25(postings[i + 1], index.docs[doc][4], postings.length / 2);
        }
      });
      if (scores === null) {
        scores = found;
      } else {
        var both = {};
        Object.keys(scores).forEach(function (doc) {
          if (found[doc]) { both[doc] = scores[doc] + found[doc]; }
        });
        scores = both;
      }
    });
    return Object.keys(scores).map(function (doc) { return [Number(doc), scores[doc]]; })
      .sort(function (a, b) { return b[1] - a[1] || a[0] - b[0]; });
  }

  function show(query) {
    list.textContent = "";
    var hits = search(query);
    status.textContent = query.trim()
      ? hits.length + (hits.length === 1 ? " result" : " results") + " for “" + query.trim() + "”"
      : "Type a word to search.";
    hits.slice(0, 200).forEach(function (hit) {
      var doc = index.docs[hit[0]];
      var item = document.createElement("li");
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = kinds[doc[2]] || doc[2];
      var link = document.createElement("a");
      link.href = doc[1];
      link.textContent = doc[0];
      var excerpt = document.createElement("p");
      excerpt.className = "excerpt";
      excerpt.textContent = doc[3];
      item.appendChild(kind);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(link);
      if (doc[3]) { item.appendChild(excerpt); }
      list.appendChild(item);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var query = input.value;
    window.history.replaceState(null, "", "?q=" + encodeURIComponent(query));
    show(query);
  });
  var initial = new URLSearchParams(window.location.search).get("q") || "";
  input.value = initial;
  if (initial) { show(initial); }
}());
