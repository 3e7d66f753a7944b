(function () {
  const tx = document.getElementById("webauthn-form").dataset.tx;
  const b64 = s => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), c => c.charCodeAt(0));
  const u64 = b => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  document.getElementById("webauthn-form").addEventListener("submit", e => e.preventDefault());
  const show = m => { const e = document.getElementById("webauthn-error"); e.textContent = m; e.hidden = false; };
  document.getElementById("webauthn-button").addEventListener("click", async () => {
    try {
      const r = await fetch(`/signin/${tx}/webauthn/options`, { method: "POST", credentials: "same-origin" });
      const o = await r.json();
      if (!r.ok) { show(o.error); return; }
      const pk = o.options.publicKey;
      pk.challenge = b64(pk.challenge);
      (pk.allowCredentials || []).forEach(c => c.id = b64(c.id));
      const c = await navigator.credentials.get({ publicKey: pk });
      const credential = {
        id: c.id, rawId: u64(c.rawId), type: c.type, extensions: c.getClientExtensionResults(),
        response: {
          authenticatorData: u64(c.response.authenticatorData),
          clientDataJSON: u64(c.response.clientDataJSON),
          signature: u64(c.response.signature),
          userHandle: c.response.userHandle ? u64(c.response.userHandle) : null,
        },
      };
      const f = await fetch(`/signin/${tx}/webauthn`, {
        method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ceremonyId: o.ceremonyId, credential }),
      });
      const done = await f.json();
      if (!f.ok) { show(done.error); return; }
      window.location = done.next;
    } catch (e) { show("The authenticator did not answer: " + e.message); }
  });
})();
