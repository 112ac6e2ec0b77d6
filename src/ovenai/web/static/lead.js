// The lead page's live conversation: while the tab is visible, ask whether the conversation
// changed since the page drew it (/leads/{id}/conversation with the version it has), the
// server holding the question until it does or the wait is over (204: nothing moved), and
// put the new bubbles in place at once, so a reply and the ticks of sent messages show
// without a reload. After a failed question it waits a few seconds before the next.
(function () {
  "use strict";
  var section = document.getElementById("conversation");
  var list = section && section.querySelector("ol.bubbles");
  if (!list || !section.dataset.refresh) {
    return;
  }
  var url = section.dataset.refresh;
  var seconds = parseInt(section.dataset.seconds || "3", 10) || 3;
  var wait = parseInt(section.dataset.wait || "0", 10) || 0;
  var busy = false;

  // Put the new bubbles in place one by one: a bubble whose status moved is replaced, a new
  // one added, the others left alone (so a screen reader announces only what changed).
  function merge(html) {
    var fresh = document.createElement("ol");
    fresh.innerHTML = html;
    var wanted = Array.prototype.slice.call(fresh.children);
    var kept = {};
    wanted.forEach(function (item) {
      if (item.id) {
        kept[item.id] = true;
      }
    });
    Array.prototype.slice.call(list.children).forEach(function (item) {
      if (!item.id || !kept[item.id]) {
        list.removeChild(item);
      }
    });
    wanted.forEach(function (item, index) {
      var old = item.id ? document.getElementById(item.id) : null;
      if (old && old.outerHTML === item.outerHTML) {
        return;
      }
      var at = list.children[index] || null;
      if (old) {
        list.replaceChild(item, old);
      } else {
        list.insertBefore(item, at);
      }
    });
  }

  function ask() {
    if (busy || document.hidden) {
      return; // a hidden tab asks nothing; it asks again when it is shown
    }
    busy = true;
    var again = 0;
    var asked =
      url +
      "?version=" +
      encodeURIComponent(section.dataset.version || "") +
      "&wait=" +
      encodeURIComponent(wait);
    fetch(asked, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (answer) {
        if (answer.status === 200 && !answer.redirected) {
          var version = answer.headers.get("X-Conversation-Version");
          return answer.text().then(function (bubbles) {
            return { version: version, bubbles: bubbles };
          });
        }
        if (answer.status !== 204 || !wait) {
          again = seconds * 1000; // signed out, or the server is restarting: not at once
        }
        return null;
      })
      .then(function (found) {
        if (found === null) {
          return;
        }
        var atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
        merge(found.bubbles);
        if (found.version) {
          section.dataset.version = found.version;
        } else {
          again = seconds * 1000; // no version to wait on: ask again later, not at once
        }
        if (atEnd) {
          list.scrollTop = list.scrollHeight;
        }
      })
      .catch(function () {
        again = seconds * 1000;
      })
      .finally(function () {
        busy = false;
        window.setTimeout(ask, again);
      });
  }

  list.scrollTop = list.scrollHeight; // the newest messages first in view
  document.addEventListener("visibilitychange", ask);
  ask();
})();
