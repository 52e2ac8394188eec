// queuectl dashboard: live updates over server-sent events, and the POST actions. No library.
"use strict";

(function () {
  const dot = document.getElementById("live-dot");
  const live = document.getElementById("live");
  let refreshing = null;

  function showToast(text, isError) {
    const toast = document.getElementById("toast");
    toast.textContent = text;
    toast.className = "toast" + (isError ? " error" : "");
    toast.hidden = false;
    clearTimeout(showToast.timer);
    showToast.timer = setTimeout(() => { toast.hidden = true; }, 4000);
  }

  function setBadge(dlq) {
    document.querySelectorAll("[data-dlq-count]").forEach((badge) => {
      badge.textContent = String(dlq);
      badge.hidden = dlq === 0;
    });
  }

  // The overview's live part is rendered by the server; swap it in when the status changed.
  // One fetch at a time; a change announced meanwhile is fetched right after it.
  let again = false;
  function refreshLive() {
    if (!live) return;
    if (refreshing) { again = true; return; }
    refreshing = fetch(live.dataset.live, { headers: { Accept: "text/html" } })
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(r.statusText))))
      .then((html) => { live.innerHTML = html; live.dataset.updated = String(Date.now()); })
      .catch(() => {})
      .finally(() => {
        refreshing = null;
        if (again) { again = false; refreshLive(); }
      });
  }

  function connect() {
    if (!dot || !window.EventSource) return;
    const source = new EventSource("/api/events");
    source.addEventListener("open", () => { dot.classList.add("on"); dot.textContent = "live"; });
    source.addEventListener("error", () => { dot.classList.remove("on"); dot.textContent = "reconnecting"; });
    source.addEventListener("status", (event) => {
      const status = JSON.parse(event.data);
      setBadge(status.dlq);
      refreshLive();
    });
  }

  // A running attempt's output, piece by piece, appended as text (never parsed as markup).
  // When the attempt ends the page reloads to show the job's final state and stored output.
  function followOutput(panel) {
    if (!window.EventSource) return;
    const status = panel.querySelector("[data-follow-status]");
    const source = new EventSource(panel.dataset.follow);
    source.addEventListener("open", () => { status.textContent = "live"; });
    source.addEventListener("output", (event) => {
      const piece = JSON.parse(event.data);
      const pre = panel.querySelector(`pre[data-live="${piece.stream}"]`);
      if (pre) pre.appendChild(document.createTextNode(piece.text));
    });
    source.addEventListener("end", (event) => {
      source.close();
      const end = JSON.parse(event.data);
      status.textContent = end.error ? end.error : "finished";
      panel.dataset.ended = "true";
      setTimeout(() => window.location.reload(), 600);
    });
    source.addEventListener("error", () => {
      if (panel.dataset.ended) return;
      source.close();  // a reconnect would show the output twice: say so instead
      status.textContent = "interrupted: reload to follow again";
    });
  }

  async function submitAction(form) {
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.action, { method: "POST", headers: { Accept: "application/json" } });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error || response.statusText);
      sessionStorage.setItem("queuectl-toast", form.dataset.done || "Done");
      window.location.reload();
    } catch (error) {
      showToast(error.message, true);
      if (button) button.disabled = false;
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-action]");
    if (!form) return;
    event.preventDefault();
    submitAction(form);
  });
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  const pending = sessionStorage.getItem("queuectl-toast");
  if (pending) { sessionStorage.removeItem("queuectl-toast"); showToast(pending, false); }
  connect();
  const followed = document.querySelector("[data-follow]");
  if (followed) followOutput(followed);
})();
