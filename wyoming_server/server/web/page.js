// Helpers every script of the admin page shares (loaded first). Plain JavaScript, no build step.
// Server and user text is always inserted with textContent, never innerHTML.
"use strict";

window.EdgeTtsPage = (() => {
  const TOKEN_KEY = "edge-tts-clone-admin-token";
  const $ = (id) => document.getElementById(id);

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child); // strings become text nodes
    }
    return node;
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
  function setToken(value) { sessionStorage.setItem(TOKEN_KEY, value); }
  function authHeaders() { return token() ? { Authorization: "Bearer " + token() } : {}; }

  function setStatus(id, message, kind) {
    const node = $(id);
    node.textContent = message;
    node.className = kind || "muted";
  }

  async function errorOf(response) {
    try {
      const body = await response.json();
      return { message: body.error || response.statusText, code: body.code || "", report: body.report, body };
    } catch (err) {
      return { message: response.status + " " + response.statusText, code: "" };
    }
  }

  return { $, el, token, setToken, authHeaders, setStatus, errorOf };
})();
