/* The review page: tabs, and adding/removing list items. No dependencies, no inline code
   (the page's Content-Security-Policy allows scripts from this site only). Without this
   script every tab is shown at once and the form still works, minus add/remove. */
(function () {
  "use strict";

  function showTab(tabs, panelId) {
    tabs.forEach(function (tab) {
      var selected = tab.getAttribute("aria-controls") === panelId;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.tabIndex = selected ? 0 : -1;
      var panel = document.getElementById(tab.getAttribute("aria-controls"));
      if (panel) {
        panel.hidden = !selected;
      }
    });
  }

  function initTabs() {
    var tabs = Array.prototype.slice.call(document.querySelectorAll('[role="tab"]'));
    if (!tabs.length) {
      return;
    }
    tabs.forEach(function (tab, i) {
      tab.addEventListener("click", function () {
        showTab(tabs, tab.getAttribute("aria-controls"));
      });
      tab.addEventListener("keydown", function (event) {
        var step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
        if (step) {
          var next = tabs[(i + step + tabs.length) % tabs.length];
          showTab(tabs, next.getAttribute("aria-controls"));
          next.focus();
        }
      });
    });
    var withErrors = tabs.filter(function (tab) {
      return tab.getAttribute("data-errors") !== "0";
    });
    showTab(tabs, (withErrors[0] || tabs[0]).getAttribute("aria-controls"));
  }

  function updateCount(list) {
    var count = list.querySelector(":scope > .list-head [data-count]");
    if (count) {
      count.textContent = String(list.querySelectorAll(":scope > .items > [data-item]").length);
    }
  }

  var TOKEN = /^__i\d+__$/;

  // "characters.3.voice_actors" -> "characters.__i0__.voice_actors": the key of the list's
  // blank item, which the page holds once (avs_api.review.form_render.pattern_of).
  function patternOf(name) {
    var depth = 0;
    return name.split(".").map(function (part) {
      if (/^\d+$/.test(part) || TOKEN.test(part)) {
        return "__i" + depth++ + "__";
      }
      return part;
    }).join(".");
  }

  function addItem(button) {
    var list = button.closest("[data-list]");
    var name = list.getAttribute("data-name");
    var pattern = patternOf(name);
    var template = document.querySelector('template[data-pattern="' + CSS.escape(pattern) + '"]');
    if (!template) {
      return;
    }
    var index = Number(list.getAttribute("data-next") || "0");
    list.setAttribute("data-next", String(index + 1));
    var html = template.innerHTML;
    // The tokens of the enclosing items become their indexes, the list's own token the new
    // index; the tokens of lists inside the new item stay (their names carry them).
    var actual = name.split(".");
    pattern.split(".").forEach(function (part, i) {
      if (TOKEN.test(part)) {
        html = html.split(part).join(actual[i]);
      }
    });
    html = html.split(list.getAttribute("data-token")).join(String(index));
    var holder = document.createElement("template");
    holder.innerHTML = html;
    var item = holder.content.firstElementChild;
    list.querySelector(":scope > .items").appendChild(holder.content);
    updateCount(list);
    var first = item && item.querySelector("input:not([type=hidden]), textarea, select");
    if (first) {
      first.focus();
    }
  }

  function removeItem(button) {
    var item = button.closest("[data-item]");
    var list = item.closest("[data-list]");
    item.remove();
    updateCount(list);
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) {
      return;
    }
    var add = target.closest("[data-add]");
    if (add) {
      event.preventDefault();
      addItem(add);
      return;
    }
    var remove = target.closest("[data-remove]");
    if (remove) {
      event.preventDefault();
      removeItem(remove);
    }
  });

  document.addEventListener("submit", function (event) {
    // One click, one decision: a double click must not post twice.
    var buttons = event.target.querySelectorAll("button[type=submit]");
    Array.prototype.forEach.call(buttons, function (button) {
      window.setTimeout(function () {
        button.disabled = true;
      }, 0);
    });
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", initTabs);
  } else {
    initTabs();
  }
})();
