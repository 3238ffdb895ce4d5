// The "Cloning model" section: install the official model or import a fine-tune, follow the job, and
// remove a model no voice speaks with.
// A job runs on the server; the page only shows it, so a reload (or another browser) picks it up
// from GET /api/models and follows it with GET /api/jobs/{id}?wait=…&after=<revision>.
"use strict";

(() => {
  const { $, el, authHeaders, setStatus, errorOf } = window.EdgeTtsPage;
  const WAIT_S = 25;
  const RETRY_MS = 2000;
  const GB = 1e9;
  let followed = null;

  const gigabytes = (bytes) => (bytes / GB).toFixed(bytes < 10 * GB ? 2 : 1) + " GB";
  const finished = (job) => ["succeeded", "failed", "cancelled"].includes(job.state);

  function renderModels(body) {
    const installed = body.installed.filter((model) => !model.error);
    $("models-state").textContent = installed.length
      ? "Installed: " + installed.map((m) => m.id + " (" + m.version + ")").join(", ") + "."
      : "No cloning model is installed yet. Voices other than the stock one need one: install it here.";
    $("models-state").className = installed.length ? "good" : "warning";
    $("models-list").replaceChildren(...installed.map(modelItem));
    const missing = body.catalogue.filter((entry) => !entry.installed);
    const select = $("install-model");
    const previous = select.value;
    select.replaceChildren(...missing.map((entry) => el("option", { value: entry.id, text: entry.id + " (" + entry.version + ")" })));
    if (missing.some((entry) => entry.id === "v2pro")) select.value = "v2pro";
    if (missing.some((entry) => entry.id === previous)) select.value = previous;
    $("install-form").hidden = missing.length === 0;
    const enrollModel = $("enroll-model");
    const chosen = enrollModel.value;
    enrollModel.replaceChildren(el("option", { value: "", text: "Best installed" }),
      ...installed.map((model) => el("option", { value: model.id, text: model.id })));
    if (installed.some((model) => model.id === chosen)) enrollModel.value = chosen;
    if (installed.length) $("models-section").classList.remove("attention");
  }

  function modelItem(model) {
    const remove = el("button", { class: "danger remove-model", type: "button", text: "Remove", "data-model": model.id });
    remove.addEventListener("click", () => {
      if (remove.dataset.armed === "yes") removeModel(model.id);
      else { remove.dataset.armed = "yes"; remove.textContent = "Really remove " + model.id + "?"; }
    });
    return el("li", { class: "row" }, el("span", { text: model.id + " (" + model.version + ")" }), remove);
  }

  // The server refuses a model that voices speak with, and names them.
  async function removeModel(modelId) {
    setStatus("models-remove-status", "Removing " + modelId + "…");
    const response = await fetch("/api/models/" + encodeURIComponent(modelId), { method: "DELETE", headers: authHeaders() });
    if (!response.ok) {
      setStatus("models-remove-status", (await errorOf(response)).message, "error");
      await loadModels(); // disarms the button
      return;
    }
    const removed = await response.json();
    setStatus("models-remove-status", "Removed " + modelId + ": " + gigabytes(removed.freed_bytes) + " freed.", "good");
    await loadModels();
    document.dispatchEvent(new CustomEvent("edge-tts:models-changed", { detail: removed }));
  }

  async function loadModels() {
    const response = await fetch("/api/models");
    if (!response.ok) { setStatus("models-state", (await errorOf(response)).message, "error"); return; }
    const body = await response.json();
    renderModels(body);
    document.body.dataset.modelsLoaded = "yes";
    if (body.job) { showJob(body.job); if (!finished(body.job)) follow(body.job); }
    if (!$("install-form").hidden) loadPlan();
  }

  async function loadPlan() {
    const model = $("install-model").value;
    if (!model) return;
    setStatus("install-plan", "Checking the download size…");
    const response = await fetch("/api/models/" + encodeURIComponent(model) + "/plan");
    if (!response.ok) { setStatus("install-plan", (await errorOf(response)).message, "error"); return; }
    const plan = await response.json();
    if (plan.disk_bytes === null) {
      setStatus("install-plan", "The download server did not say how large the files are; " +
        gigabytes(plan.free_bytes) + " is free. The job stops with a clear message if the disk fills up.", "muted");
      return;
    }
    const text = "Downloads " + gigabytes(plan.download_bytes) + " and needs " + gigabytes(plan.disk_bytes) +
      " free to convert; " + gigabytes(plan.free_bytes) + " is free.";
    setStatus("install-plan", plan.enough_space ? text : text + " Free some space first.",
      plan.enough_space ? "muted" : "error");
  }

  function showJob(job) {
    $("job-panel").hidden = false;
    $("job-panel").dataset.jobId = job.id;
    $("job-panel").dataset.state = job.state;
    $("job-title").textContent = (job.kind === "install-model" ? "Installing " : "Importing ") + job.model_id;
    $("job-progress").value = job.progress;
    const percent = Math.round(100 * job.progress) + " %";
    if (job.state === "failed") setStatus("job-message", "Failed: " + (job.error || job.message), "error");
    else if (job.state === "cancelled") setStatus("job-message", "Cancelled.", "muted");
    else if (job.state === "succeeded") setStatus("job-message", "Done: " + job.message + ".", "good");
    else setStatus("job-message", percent + " · " + job.message, "muted");
    $("job-cancel").hidden = finished(job);
    $("install-button").disabled = $("import-button").disabled = !finished(job); // one job at a time
  }

  async function follow(job) {
    if (followed === job.id) return;
    followed = job.id;
    let current = job;
    while (!finished(current)) {
      try {
        const response = await fetch("/api/jobs/" + encodeURIComponent(current.id) + "?wait=" + WAIT_S + "&after=" + current.revision);
        if (!response.ok) throw new Error((await errorOf(response)).message);
        current = await response.json();
        showJob(current);
      } catch (err) {
        setStatus("job-message", "Lost contact with the server; retrying…", "warning");
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
    followed = null;
    await loadModels();
    document.dispatchEvent(new CustomEvent("edge-tts:models-changed", { detail: current }));
  }

  async function install(event) {
    event.preventDefault();
    const button = $("install-button");
    button.disabled = true;
    setStatus("install-status", "Starting…");
    try {
      const response = await fetch("/api/models/install", {
        method: "POST", headers: { "Content-Type": "application/json", ...authHeaders() },
        body: JSON.stringify({ model: $("install-model").value }),
      });
      if (!response.ok) {
        const failure = await errorOf(response);
        setStatus("install-status", failure.message, "error");
        if (failure.body && failure.body.job) { showJob(failure.body.job); follow(failure.body.job); }
        return;
      }
      const job = await response.json();
      setStatus("install-status", "");
      showJob(job);
      follow(job);
    } finally {
      if ($("job-panel").hidden || $("job-panel").dataset.state !== "running") button.disabled = false;
    }
  }

  async function cancel() {
    const jobId = $("job-panel").dataset.jobId;
    const response = await fetch("/api/jobs/" + encodeURIComponent(jobId) + "/cancel", { method: "POST", headers: authHeaders() });
    if (!response.ok) setStatus("job-message", (await errorOf(response)).message, "error");
  }

  function importFineTune(event) {
    event.preventDefault();
    const gpt = $("import-gpt").files[0];
    const sovits = $("import-sovits").files[0];
    if (!gpt || !sovits) { setStatus("import-status", "Choose both files: the GPT .ckpt and the SoVITS .pth.", "error"); return; }
    const form = new FormData();
    form.append("model_id", $("import-model-id").value.trim());
    form.append("gpt", gpt, gpt.name);
    form.append("sovits", sovits, sovits.name);
    // XMLHttpRequest, not fetch: it reports upload progress, and these files take a while.
    const request = new XMLHttpRequest();
    request.open("POST", "/api/models/import");
    for (const [name, value] of Object.entries(authHeaders())) request.setRequestHeader(name, value);
    request.upload.addEventListener("progress", (progress) => {
      if (progress.lengthComputable) setStatus("import-status", "Uploading " + Math.round(100 * progress.loaded / progress.total) + " %…");
    });
    request.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(request.responseText); } catch (err) { body = { error: request.statusText }; }
      if (!body.job) $("import-button").disabled = false;
      if (request.status !== 202) {
        setStatus("import-status", body.error || "The upload failed.", "error");
        if (body.job) { showJob(body.job); follow(body.job); }
        return;
      }
      setStatus("import-status", "Uploaded; converting on the server.", "good");
      $("import-form").reset();
      showJob(body);
      follow(body);
    });
    request.addEventListener("error", () => {
      $("import-button").disabled = false;
      setStatus("import-status", "The upload was cut off; try again.", "error");
    });
    $("import-button").disabled = true;
    setStatus("import-status", "Uploading…");
    request.send(form);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("install-form").addEventListener("submit", install);
    $("install-model").addEventListener("change", loadPlan);
    $("job-cancel").addEventListener("click", cancel);
    $("import-form").addEventListener("submit", importFineTune);
    loadModels();
  });
})();
