// scimlite's admin pages work without this file; it adds copy buttons and
// the live status on the Connect page.  Served from this origin only (CSP).
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).textContent.trim();
  navigator.clipboard.writeText(text).then(() => {
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  });
});
const live = document.querySelector("[data-poll]");
if (live) {
  const show = (last) => {
    if (!last) return;
    live.textContent = "";
    const parts = ["Received ", [last.method || "", last.path || ""].join(" ").trim(),
                   " at " + last.at + " from key ", last.key_name || "(none)", "."];
    parts.forEach((part, i) => {
      const node = document.createElement(i === 1 ? "code" : i === 3 ? "strong" : "span");
      node.textContent = part;
      live.appendChild(node);
    });
  };
  setInterval(() => fetch(live.dataset.poll, {credentials: "same-origin"})
    .then((r) => r.ok ? r.json() : null).then((s) => s && show(s.last)), 3000);
}
// A form with data-confirm asks first (without this file it posts at once:
// every such action is audited and can be undone by another).
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
