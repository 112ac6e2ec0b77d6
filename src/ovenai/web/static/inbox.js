// The inbox's live refresh: every 5 seconds, while the tab is visible, fetch the rows the
// page's own query shows (/inbox/rows) and put them in place of the table's body.
(function () {
  "use strict";
  var inbox = document.getElementById("inbox");
  var body = inbox && inbox.querySelector("tbody");
  if (!body || !inbox.dataset.refresh) {
    return;
  }
  var url = inbox.dataset.refresh;
  var busy = false;

  function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (answer) {
        if (answer.ok && !answer.redirected) {
          return answer.text();
        }
        return null;
      })
      .then(function (rows) {
        if (rows !== null && rows !== body.innerHTML) {
          body.innerHTML = rows;
        }
      })
      .catch(function () {})
      .finally(function () {
        busy = false;
      });
  }

  window.setInterval(refresh, 5000);
  document.addEventListener("visibilitychange", refresh);
})();
