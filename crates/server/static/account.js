(function () {
  const b64 = s => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), c => c.charCodeAt(0));
  const u64 = b => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const say = m => { document.getElementById("result").textContent = m; };
  const post = async (url, body) => {
    const r = await fetch(url, { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: body === undefined ? "" : JSON.stringify(body) });
    const j = await r.json();
    if (!r.ok) throw new Error(j.error);
    return j;
  };
  // The forms are driven by script: Enter must not submit them as plain GETs.
  document.querySelectorAll("form").forEach(f => f.addEventListener("submit", e => e.preventDefault()));
  document.querySelectorAll("button.remove").forEach(b => b.addEventListener("click", async () => {
    if (!window.confirm("Remove this method?")) return;
    try {
      await post("/account/methods/" + encodeURIComponent(b.dataset.id) + "/remove");
      window.location.reload();
    } catch (e) { say("Not removed: " + e.message); }
  }));
  document.querySelectorAll("button.rename").forEach(b => b.addEventListener("click", async () => {
    const name = window.prompt("New name");
    if (!name) return;
    try {
      await post("/account/methods/" + encodeURIComponent(b.dataset.id) + "/rename", { name });
      window.location.reload();
    } catch (e) { say("Not renamed: " + e.message); }
  }));
  const passkey = document.getElementById("register-passkey");
  if (passkey) passkey.addEventListener("click", async () => {
    try {
      const o = await post("/account/webauthn/options", { kind: "any" });
      const pk = o.options.publicKey;
      pk.challenge = b64(pk.challenge);
      pk.user.id = b64(pk.user.id);
      (pk.excludeCredentials || []).forEach(c => c.id = b64(c.id));
      const c = await navigator.credentials.create({ publicKey: pk });
      const credential = {
        id: c.id, rawId: u64(c.rawId), type: c.type, authenticatorAttachment: c.authenticatorAttachment,
        extensions: c.getClientExtensionResults(),
        response: { attestationObject: u64(c.response.attestationObject), clientDataJSON: u64(c.response.clientDataJSON),
                    transports: c.response.getTransports ? c.response.getTransports() : [] },
      };
      await post("/account/webauthn", { ceremonyId: o.ceremonyId, credential, name: document.getElementById("key-name").value });
      window.location.reload();
    } catch (e) { say("Not added: " + e.message); }
  });
  let totpCeremony = null;
  document.getElementById("start-totp").addEventListener("click", async () => {
    try {
      const o = await post("/account/totp/start");
      totpCeremony = o.ceremonyId;
      document.getElementById("totp-key").textContent = o.manualEntryKey;
      document.getElementById("totp-qr").src = "data:image/png;base64," + o.qrPngBase64;
      document.getElementById("totp-setup").hidden = false;
    } catch (e) { say("Not started: " + e.message); }
  });
  document.getElementById("finish-totp").addEventListener("click", async () => {
    try {
      await post("/account/totp", { ceremonyId: totpCeremony, code: document.getElementById("totp-first").value });
      window.location.reload();
    } catch (e) { say("Not added: " + e.message); }
  });
})();
