// The pipeline board: move a lead by dragging its card to another column, or by focusing
// the card, choosing a column with the arrow keys and pressing Enter. Each move posts the
// card's own form (/pipeline/move, the same as without JavaScript) asking for JSON, then
// moves the card in place. Without this script the card's buttons and select still work.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board) {
    return;
  }
  var status = document.getElementById("board-status");
  var columns = Array.prototype.slice.call(board.querySelectorAll(".column"));
  var stages = columns.map(function (column) {
    return column.dataset.stage;
  });
  var rtl = board.dataset.direction === "rtl";

  function column(stage) {
    return columns[stages.indexOf(stage)];
  }

  function say(template, stage) {
    if (status) {
      status.textContent = template.replace("{stage}", column(stage).dataset.label);
    }
  }

  function clearTarget(card) {
    delete card.dataset.target;
    columns.forEach(function (c) {
      c.classList.remove("target");
    });
  }

  function count(col) {
    var badge = col.querySelector(".count");
    var plus = badge.textContent.indexOf("+") >= 0 ? "+" : "";
    badge.textContent = col.querySelectorAll(".lead-card").length + plus;
  }

  // The card's previous/next buttons and select, for the stage it is at now.
  function refresh(card, stage) {
    var index = stages.indexOf(stage);
    card.dataset.stage = stage;
    card.querySelector("select[name=stage]").value = stage;
    [[".step.back", index - 1], [".step.forth", index + 1]].forEach(function (pair) {
      var button = card.querySelector(pair[0]);
      var other = stages[pair[1]];
      button.hidden = other === undefined;
      button.value = other || "";
      button.querySelector(".step-label").textContent = other ? column(other).dataset.label : "";
    });
  }

  function move(card, stage) {
    var from = card.dataset.stage;
    clearTarget(card);
    if (!stage || stage === from) {
      return;
    }
    var form = card.querySelector("form.move");
    var data = new FormData();
    data.append("csrf", form.elements.csrf.value);
    data.append("lead_id", card.dataset.lead);
    data.append("stage", stage);
    var error = card.querySelector(".error");
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (answer) {
        return answer.json().then(function (body) {
          return { ok: answer.ok, body: body };
        });
      })
      .then(function (result) {
        if (!result.ok) {
          throw new Error(result.body.error || "");
        }
        var target = column(result.body.stage);
        target.querySelector(".cards").prepend(card);
        refresh(card, result.body.stage);
        count(column(from));
        count(target);
        error.hidden = true;
        card.focus();
        say(board.dataset.moved, result.body.stage);
      })
      .catch(function () {
        error.textContent = board.dataset.error;
        error.hidden = false;
      });
  }

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".lead-card");
    if (card) {
      event.dataTransfer.setData("text/plain", card.dataset.lead);
      event.dataTransfer.effectAllowed = "move";
      card.classList.add("dragging");
    }
  });
  board.addEventListener("dragend", function (event) {
    var card = event.target.closest && event.target.closest(".lead-card");
    if (card) {
      card.classList.remove("dragging");
    }
  });
  columns.forEach(function (col) {
    col.addEventListener("dragover", function (event) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      col.classList.add("target");
    });
    col.addEventListener("dragleave", function () {
      col.classList.remove("target");
    });
    col.addEventListener("drop", function (event) {
      event.preventDefault();
      col.classList.remove("target");
      var id = event.dataTransfer.getData("text/plain");
      var card = document.getElementById("lead-" + id);
      if (card) {
        move(card, col.dataset.stage);
      }
    });
  });

  board.addEventListener("keydown", function (event) {
    var card = event.target;
    if (!card.classList || !card.classList.contains("lead-card")) {
      return;
    }
    var keys = { ArrowLeft: rtl ? 1 : -1, ArrowRight: rtl ? -1 : 1, ArrowUp: -1, ArrowDown: 1 };
    if (event.key in keys) {
      event.preventDefault();
      var current = stages.indexOf(card.dataset.target || card.dataset.stage);
      var next = Math.max(0, Math.min(stages.length - 1, current + keys[event.key]));
      clearTarget(card);
      card.dataset.target = stages[next];
      column(stages[next]).classList.add("target");
      say(board.dataset.target, stages[next]);
    } else if (event.key === "Enter" && card.dataset.target) {
      event.preventDefault();
      move(card, card.dataset.target);
    } else if (event.key === "Escape") {
      clearTarget(card);
    }
  });
  board.addEventListener("focusout", function (event) {
    var card = event.target;
    if (card.classList && card.classList.contains("lead-card")) {
      clearTarget(card);
    }
  });
})();
