// Layout enhancements (every page works without them): the phone menu's toggle becomes a button with
// aria-expanded, Escape closes the account menu, and a table cell without a data-label gets its column's heading.
(() => {
  "use strict";

  function menuButton() {
    const box = document.getElementById("nav-toggle");
    const label = document.querySelector("[data-nav-toggle]");
    if (!box || !label) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "nav-toggle-label";
    button.innerHTML = label.innerHTML;
    button.setAttribute("aria-controls", "topnav");
    button.setAttribute("aria-expanded", "false");
    button.addEventListener("click", () => {
      box.checked = !box.checked;
      button.setAttribute("aria-expanded", String(box.checked));
    });
    label.after(button);
    label.hidden = true; // kept: it still names the checkbox the button now drives
    box.hidden = true;
  }

  function accountMenu() {
    const menu = document.querySelector(".account-menu");
    if (!menu) return;
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
    document.addEventListener("click", (event) => {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
  }

  function tableLabels() {
    for (const table of document.querySelectorAll("table")) {
      const headings = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
      if (!headings.length) continue;
      for (const row of table.querySelectorAll("tbody tr")) {
        Array.from(row.children).forEach((cell, i) => {
          if (cell.tagName === "TD" && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", headings[i] || "");
        });
      }
    }
  }

  function start() {
    menuButton();
    accountMenu();
    tableLabels();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
