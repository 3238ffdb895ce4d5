// The edge-tts-clone admin page. Plain JavaScript, no framework, no build step.
// Everything that comes from the server or a user is inserted with textContent (never innerHTML):
// a voice called <img src=x onerror=...> must show up as those characters, not run.
"use strict";

(() => {
  const { $, el, token, setToken, authHeaders, setStatus, errorOf } = window.EdgeTtsPage;
  const CONSENT_STATEMENT = "The person whose voice this is agrees to it being cloned and used in this home.";
  let recordedFile = null;
  let recorder = null;

  function formatNumber(value, digits) {
    return typeof value === "number" ? value.toFixed(digits) : "–";
  }

  function renderReport(report) {
    const box = el("div", { class: "report" });
    if (!report || Object.keys(report).length === 0) {
      box.append(el("span", { class: "muted", text: "No quality report." }));
      return box;
    }
    const rows = [
      ["Duration", formatNumber(report.duration_s, 1) + " s"],
      ["Signal to noise", formatNumber(report.snr_db, 1) + " dB"],
      ["Clipping", formatNumber(100 * (report.clipping_ratio ?? NaN), 2) + " %"],
      ["Loudness", formatNumber(report.loudness_lufs, 1) + " LUFS"],
      ["Speech", formatNumber(100 * (report.speech_ratio ?? NaN), 0) + " %"],
    ];
    const list = el("dl");
    for (const [label, value] of rows) list.append(el("dt", { text: label }), el("dd", { text: value }));
    box.append(list);
    if (report.ref_free) box.append(el("p", { class: "warning", text: "No transcript: lower quality (ref-free)." }));
    for (const warning of report.warnings || []) box.append(el("p", { class: "warning", text: "⚠ " + warning }));
    for (const reason of report.reasons || []) box.append(el("p", { class: "error", text: "✗ " + reason }));
    return box;
  }

  function renderVoice(voice) {
    const item = el("li", { class: "voice", "data-voice-id": voice.id });
    const title = el("div", { class: "voice-title" },
      el("span", { class: "voice-name", text: voice.name }),
      el("span", { class: "badge", text: voice.id }),
      el("span", { class: "badge", text: voice.kind }),
      el("span", { class: "badge", text: (voice.languages || []).join(", ") }));
    if (voice.builtin) title.append(el("span", { class: "badge", text: "built-in" }));
    item.append(title);
    for (const style of voice.styles || []) {
      const details = el("details", { class: "style" },
        el("summary", { text: "Style: " + style.name + (style.reference_text ? " · “" + style.reference_text + "”" : "") }),
        renderReport(style.quality));
      item.append(details);
    }
    const renameInput = el("input", { class: "rename-input", value: voice.name, maxLength: 80 });
    renameInput.setAttribute("aria-label", "New name for " + voice.name);
    const renameButton = el("button", { class: "secondary rename-button", type: "button", text: "Rename" });
    renameButton.addEventListener("click", () => renameVoice(voice.id, renameInput.value));
    const actions = el("div", { class: "row" }, renameInput, renameButton);
    if (!voice.builtin) {
      const deleteButton = el("button", { class: "danger delete-button", type: "button", text: "Delete" });
      deleteButton.addEventListener("click", () => {
        if (deleteButton.dataset.armed === "yes") deleteVoice(voice.id);
        else { deleteButton.dataset.armed = "yes"; deleteButton.textContent = "Really delete?"; }
      });
      actions.append(deleteButton);
    }
    const status = el("span", { class: "muted voice-status", role: "status" });
    actions.append(status);
    item.append(actions);
    return item;
  }

  async function loadHealth() {
    try {
      const response = await fetch("/api/health");
      const health = await response.json();
      setStatus("server-status", "Server " + health.version + " · " + health.voices + " voices · Wyoming port " +
        health.wyoming_port);
    } catch (err) {
      setStatus("server-status", "Cannot reach the server.", "error");
    }
  }

  async function loadVoices() {
    const response = await fetch("/api/voices");
    if (!response.ok) { setStatus("server-status", (await errorOf(response)).message, "error"); return; }
    const body = await response.json();
    const list = $("voice-list");
    list.replaceChildren(...body.voices.map(renderVoice));
    $("voices-empty").hidden = body.voices.length > 0;
    const select = $("speak-voice");
    const previous = select.value;
    select.replaceChildren(...body.voices.map((voice) => el("option", { value: voice.id, text: voice.name })));
    if (body.voices.some((voice) => voice.id === previous)) select.value = previous;
    $("skipped").hidden = body.skipped.length === 0;
    $("skipped-list").replaceChildren(...body.skipped.map((item) => el("li", { text: item.path + ": " + item.reason })));
    document.body.dataset.voicesLoaded = String(body.voices.length);
  }

  function voiceStatus(voiceId, message, kind) {
    for (const item of document.querySelectorAll("#voice-list > li")) {
      if (item.getAttribute("data-voice-id") === voiceId) {
        const status = item.querySelector(".voice-status");
        status.textContent = message;
        status.className = "voice-status " + (kind || "muted");
      }
    }
  }

  async function renameVoice(voiceId, name) {
    const response = await fetch("/api/voices/" + encodeURIComponent(voiceId), {
      method: "PATCH", headers: { "Content-Type": "application/json", ...authHeaders() },
      body: JSON.stringify({ name }),
    });
    if (!response.ok) { voiceStatus(voiceId, (await errorOf(response)).message, "error"); return; }
    await loadVoices();
  }

  async function deleteVoice(voiceId) {
    const response = await fetch("/api/voices/" + encodeURIComponent(voiceId), {
      method: "DELETE", headers: authHeaders(),
    });
    if (!response.ok) { voiceStatus(voiceId, (await errorOf(response)).message, "error"); return; }
    await loadVoices();
    await loadHealth();
  }

  async function speak(event) {
    event.preventDefault();
    const button = $("speak-button");
    button.disabled = true;
    setStatus("speak-status", "Speaking…");
    try {
      const response = await fetch("/api/tts", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text: $("speak-text").value, voice: $("speak-voice").value || undefined,
                               speed: Number($("speak-speed").value) }),
      });
      if (!response.ok) { setStatus("speak-status", (await errorOf(response)).message, "error"); return; }
      const audio = $("speak-audio");
      if (audio.src) URL.revokeObjectURL(audio.src);
      audio.src = URL.createObjectURL(await response.blob());
      setStatus("speak-status", "Ready.", "good");
      try { await audio.play(); } catch (err) { setStatus("speak-status", "Ready: press play.", "good"); }
    } finally {
      button.disabled = false;
    }
  }

  function encodeWav(buffer) {
    const frames = buffer.length;
    const mono = new Float32Array(frames);
    for (let channel = 0; channel < buffer.numberOfChannels; channel++) {
      const data = buffer.getChannelData(channel);
      for (let i = 0; i < frames; i++) mono[i] += data[i] / buffer.numberOfChannels;
    }
    const bytes = new ArrayBuffer(44 + frames * 2);
    const view = new DataView(bytes);
    const text = (offset, value) => { for (let i = 0; i < value.length; i++) view.setUint8(offset + i, value.charCodeAt(i)); };
    text(0, "RIFF"); view.setUint32(4, 36 + frames * 2, true); text(8, "WAVE");
    text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
    view.setUint32(24, buffer.sampleRate, true); view.setUint32(28, buffer.sampleRate * 2, true);
    view.setUint16(32, 2, true); view.setUint16(34, 16, true);
    text(36, "data"); view.setUint32(40, frames * 2, true);
    for (let i = 0; i < frames; i++) {
      const sample = Math.max(-1, Math.min(1, mono[i]));
      view.setInt16(44 + i * 2, Math.round(sample * 32767), true);
    }
    return new Blob([bytes], { type: "audio/wav" });
  }

  async function toggleRecording() {
    const button = $("record-button");
    if (recorder && recorder.state === "recording") { recorder.stop(); return; }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      setStatus("record-status", "No microphone (the page must be opened over https or on localhost).", "error");
      return;
    }
    const parts = [];
    recorder = new MediaRecorder(stream);
    recorder.addEventListener("dataavailable", (event) => parts.push(event.data));
    recorder.addEventListener("stop", async () => {
      stream.getTracks().forEach((track) => track.stop());
      button.textContent = "Record";
      try {
        // The server reads WAV/FLAC/OGG/MP3, not the browser's WebM: decode here and send WAV.
        const context = new AudioContext();
        const decoded = await context.decodeAudioData(await new Blob(parts).arrayBuffer());
        await context.close();
        recordedFile = new File([encodeWav(decoded)], "recording.wav", { type: "audio/wav" });
        const preview = $("record-preview");
        preview.src = URL.createObjectURL(recordedFile);
        preview.hidden = false;
        setStatus("record-status", "Recorded " + decoded.duration.toFixed(1) + " s.", "good");
      } catch (err) {
        setStatus("record-status", "Could not read the recording.", "error");
      }
    });
    recorder.start();
    button.textContent = "Stop";
    setStatus("record-status", "Recording… speak now, then press Stop.");
  }

  async function enroll(event) {
    event.preventDefault();
    const report = $("enroll-report");
    report.hidden = true;
    if (!$("enroll-consent").checked) {
      setStatus("enroll-status", "Tick the consent box first.", "error");
      return;
    }
    const file = $("enroll-file").files[0] || recordedFile;
    if (!file) { setStatus("enroll-status", "Choose a file or record a clip.", "error"); return; }
    const form = new FormData();
    form.append("name", $("enroll-name").value);
    form.append("language", $("enroll-language").value);
    form.append("text", $("enroll-text").value);
    if ($("enroll-style").value) form.append("style", $("enroll-style").value);
    if ($("enroll-model").value) form.append("model_id", $("enroll-model").value);
    form.append("consent", CONSENT_STATEMENT);
    form.append("audio", file, file.name || "clip.wav");
    const button = $("enroll-button");
    button.disabled = true;
    setStatus("enroll-status", "Checking the clip…");
    try {
      const response = await fetch("/api/voices", { method: "POST", headers: authHeaders(), body: form });
      if (response.status === 201) {
        const body = await response.json();
        setStatus("enroll-status", "Added " + body.voice.name + ".", "good");
        report.replaceChildren(renderReport(body.report));
        report.hidden = false;
        $("enroll-form").reset();
        recordedFile = null;
        updateConsent();
        await loadVoices();
        await loadHealth();
        return;
      }
      const failure = await errorOf(response);
      setStatus("enroll-status", failure.message, "error");
      if (failure.code === "no-model") {
        $("models-section").classList.add("attention");
        $("models-section").scrollIntoView();
        return;
      }
      if (failure.report) { report.replaceChildren(renderReport(failure.report)); report.hidden = false; }
    } finally {
      updateConsent();
    }
  }

  function updateConsent() {
    $("enroll-button").disabled = !$("enroll-consent").checked;
  }

  async function saveToken(event) {
    event.preventDefault();
    setToken($("token-input").value.trim());
    $("token-input").value = "";
    const response = await fetch("/api/auth", { headers: authHeaders() });
    setStatus("token-state", response.ok ? "Token accepted." : "Token refused.", response.ok ? "good" : "error");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("token-form").addEventListener("submit", saveToken);
    $("speak-form").addEventListener("submit", speak);
    $("enroll-form").addEventListener("submit", enroll);
    $("record-button").addEventListener("click", toggleRecording);
    $("enroll-consent").addEventListener("change", updateConsent);
    $("speak-speed").addEventListener("input", () => { $("speak-speed-value").textContent = $("speak-speed").value; });
    document.addEventListener("edge-tts:models-changed", () => { loadVoices(); loadHealth(); });
    if (token()) setStatus("token-state", "Token set for this tab.", "good");
    updateConsent();
    loadHealth();
    loadVoices();
  });
})();
