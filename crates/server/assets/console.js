// Custodian console: small enhancements over pages that work without JavaScript, and security
// keys (WebAuthn), which need it. No inline handlers (the CSP allows none).
(function () {
  "use strict";

  function b64u(buf) {
    var s = "";
    new Uint8Array(buf).forEach(function (b) { s += String.fromCharCode(b); });
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function unb64u(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); });
  }
  function post(url, form, data) {
    var csrf = form.querySelector("input[name=csrf]");
    if (csrf) { data.csrf = csrf.value; }
    return fetch(url, { method: "POST", body: new URLSearchParams(data), credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) { throw new Error("the server refused (" + r.status + ")"); }
        return r.json();
      });
  }
  function say(form, text) {
    var s = form.querySelector("[data-security-key-status]");
    if (s) { s.textContent = text; }
  }
  function set(form, name, value) { form.querySelector("input[name=" + name + "]").value = value; }

  // Sign-in and re-authentication: password and a security key instead of the code.
  function wireLogin(box) {
    var form = box.closest("form");
    box.hidden = false;
    box.querySelector("button").addEventListener("click", function () {
      var login = box.getAttribute("data-login") || (form.querySelector("input[name=login]") || {}).value || "";
      if (!login) { say(form, "Enter your login name first."); return; }
      say(form, "Touch or unlock your security key…");
      post("/console/webauthn/login-options", form, { login: login }).then(function (o) {
        var pk = o.publicKey;
        if (!pk.allowCredentials.length) { throw new Error("no security key is registered for this login"); }
        pk.challenge = unb64u(pk.challenge);
        pk.allowCredentials.forEach(function (c) { c.id = unb64u(c.id); });
        return navigator.credentials.get({ publicKey: pk }).then(function (cred) {
          set(form, "wa_token", o.token);
          set(form, "wa_id", b64u(cred.rawId));
          set(form, "wa_client_data", b64u(cred.response.clientDataJSON));
          set(form, "wa_auth_data", b64u(cred.response.authenticatorData));
          set(form, "wa_signature", b64u(cred.response.signature));
          var code = form.querySelector("input[name=code]");
          if (code) { code.required = false; code.value = ""; }
          if (form.reportValidity()) { form.submit(); } else { say(form, "Fill in the other fields, then try again."); }
        });
      }).catch(function (e) { say(form, "The security key did not sign you in: " + e.message); });
    });
  }

  // The Account screen: add a security key.
  function wireRegister(form) {
    form.addEventListener("submit", function (ev) {
      if (form.querySelector("input[name=wa_attestation]").value) { return; }
      ev.preventDefault();
      if (!window.PublicKeyCredential) { say(form, "This browser does not support security keys."); return; }
      say(form, "Touch or unlock your security key…");
      post("/console/webauthn/register-options", form, {}).then(function (o) {
        var pk = o.publicKey;
        pk.challenge = unb64u(pk.challenge);
        pk.user.id = unb64u(pk.user.id);
        pk.excludeCredentials.forEach(function (c) { c.id = unb64u(c.id); });
        return navigator.credentials.create({ publicKey: pk }).then(function (cred) {
          set(form, "wa_token", o.token);
          set(form, "wa_client_data", b64u(cred.response.clientDataJSON));
          set(form, "wa_attestation", b64u(cred.response.attestationObject));
          form.submit();
        });
      }).catch(function (e) { say(form, "The key was not added: " + e.message); });
    });
  }

  function wire(root) {
    root.querySelectorAll("[data-select-on-focus]").forEach(function (el) {
      el.addEventListener("focus", function () { el.select(); });
    });
    if (window.PublicKeyCredential) {
      root.querySelectorAll("[data-security-key-login]").forEach(wireLogin);
    }
    root.querySelectorAll("form[data-security-key-register]").forEach(wireRegister);
  }
  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  // After htmx replaces the page body (boosted links), wire it and move focus to the main
  // landmark so screen readers announce the new page.
  document.addEventListener("htmx:afterSettle", function (e) {
    wire(e.target);
    if (e.detail && e.detail.boosted) {
      var main = document.getElementById("main");
      if (main) { main.focus(); }
    }
  });
})();
