// The little behaviour templates ask for with data- attributes. The Content-Security-Policy
// refuses inline handlers (onclick="..."), so it lives here; listeners sit on the document,
// so content that htmx swaps in later behaves the same.
"use strict";

// <form data-confirm="Remove X now?">: ask before sending.
document.addEventListener(
  "submit",
  (event) => {
    const message = event.target.dataset ? event.target.dataset.confirm : undefined;
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true,
);

// <input data-custom-period>: choosing a date of one's own makes the report's period "custom".
document.addEventListener("change", (event) => {
  const input = event.target;
  if (input.matches && input.matches("[data-custom-period]") && input.form) {
    input.form.elements.period.value = "custom";
  }
});

// <button data-print>: the browser's print dialog (Save as PDF).
document.addEventListener("click", (event) => {
  if (event.target.closest && event.target.closest("[data-print]")) {
    window.print();
  }
});

// <input data-select-on-focus>: a value shown once, selected for copying.
document.addEventListener("focusin", (event) => {
  if (event.target.matches && event.target.matches("[data-select-on-focus]")) {
    event.target.select();
  }
});

// A report's preset period (last quarter, ...) is defined by its name alone: the dates the
// form still shows from an earlier choice are not sent, so the address carries no stale ones.
document.addEventListener("htmx:configRequest", (event) => {
  const params = event.detail.parameters;
  const form = event.detail.elt;
  if (form.matches && form.matches("form.report-period") && params.period !== "custom") {
    delete params.start;
    delete params.end;
  }
});

// <button data-copy-from="id">: copy that input's value (a token shown once) to the clipboard.
document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("[data-copy-from]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyFrom);
  source.select();
  navigator.clipboard.writeText(source.value).then(() => { button.textContent = "Copied"; });
});

// A card that scrolls sideways (a wide table on a phone) and holds nothing a keyboard can
// reach: it takes the focus itself, so the arrow keys scroll it (WCAG 2.1.1; axe's
// "scrollable-region-focusable"). Only while it scrolls: on a wide screen it is no tab stop.
function focusableScrollers() {
  for (const card of document.querySelectorAll(".card")) {
    const scrolls = card.scrollWidth > card.clientWidth;
    if (scrolls && !card.hasAttribute("tabindex")) {
      const reachable = card.querySelector("a[href], button, input, select, textarea, summary");
      if (reachable) continue;
      const heading = card.querySelector("h2, h3");
      card.tabIndex = 0;
      card.dataset.scrollFocus = "";
      if (heading && !card.hasAttribute("aria-label")) card.setAttribute("aria-label", heading.textContent.trim());
    } else if (!scrolls && card.hasAttribute("data-scroll-focus")) {
      card.removeAttribute("tabindex");
      card.removeAttribute("data-scroll-focus");
    }
  }
}
document.addEventListener("DOMContentLoaded", focusableScrollers);
document.addEventListener("htmx:afterSettle", focusableScrollers);
window.addEventListener("resize", focusableScrollers);

// <form class="filters">: on a phone (the style sheet's 640 px) its fields fold behind one
// button that says how many filters the address sets, so that the list comes first; a tap
// opens them. Wider, or without JavaScript, the fields show and the button does not.
function foldFilters() {
  const query = new URLSearchParams(window.location.search);
  for (const form of document.querySelectorAll("form.filters:not([data-folds])")) {
    form.dataset.folds = "";
    const names = new Set([...form.elements].map((field) => field.name).filter(Boolean));
    const set = [...query].filter(([name, value]) => value && names.has(name)).length;
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "filters-toggle small";
    toggle.textContent = set ? `Filters · ${set} set` : "Filters";
    const open = Boolean(form.querySelector(".has-error, .error, .errorlist"));
    toggle.setAttribute("aria-expanded", String(open));
    form.classList.toggle("folded", !open);
    form.prepend(toggle);
  }
}
document.addEventListener("click", (event) => {
  const toggle = event.target.closest && event.target.closest(".filters-toggle");
  if (!toggle) return;
  const folded = toggle.form.classList.toggle("folded");
  toggle.setAttribute("aria-expanded", String(!folded));
});
document.addEventListener("DOMContentLoaded", foldFilters);
document.addEventListener("htmx:afterSettle", foldFilters);
