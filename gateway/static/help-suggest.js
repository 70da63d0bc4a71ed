/* The new-ticket form suggests knowledge-base articles as the subject is typed (issue #18).
   Progressive enhancement: without JavaScript the form keeps its plain link to /help. */
(function () {
  "use strict";
  var box = document.querySelector("[data-kb-suggest]");
  var subject = document.getElementById("f-subject");
  if (!box || !subject || !window.fetch) { return; }
  var list = box.querySelector("ul");
  var heading = box.querySelector("p");
  var timer = null;
  var asked = "";

  function show(items) {
    list.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "/help/" + encodeURIComponent(item.slug);
      a.textContent = item.title;
      a.target = "_blank";
      a.rel = "noopener";
      li.appendChild(a);
      list.appendChild(li);
    });
    heading.hidden = items.length === 0;
  }

  function ask() {
    var query = subject.value.trim();
    if (query === asked) { return; }
    asked = query;
    if (query.length < 3) { show([]); return; }
    var url = box.getAttribute("data-url") + "?limit=5&language=" + encodeURIComponent(box.getAttribute("data-language")) +
      "&q=" + encodeURIComponent(query);
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : {items: []}; })
      .then(function (found) { if (query === asked) { show(found.items || []); } })
      .catch(function () { show([]); });
  }

  subject.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 250);
  });
  ask();
}());
