/* Sandbox stand-in for https://connect.facebook.net/en_US/sdk.js (Embedded Signup only).
 * FB.init({appId, version, ...}); FB.login(callback, {config_id, response_type: 'code',
 * override_default_response_type: true, extras: {...}}) opens the sandbox's OAuth dialog
 * in a popup; the callback gets {authResponse: {code, ...}, status: 'connected'} or
 * {authResponse: null, status: 'unknown'} on cancel or when the popup is closed. */
(function () {
  "use strict";
  var WWW = {{ www_base | tojson }};
  var WWW_ORIGIN = new URL(WWW, window.location.href).origin;
  var settings = { appId: null, version: {{ default_version | tojson }} };
  var pending = null;

  function finish(response) {
    if (!pending) { return; }
    var current = pending;
    pending = null;
    clearInterval(current.timer);
    try { current.callback(response); } catch (err) { setTimeout(function () { throw err; }); }
  }

  window.addEventListener("message", function (event) {
    // only the dialog's origin may answer FB.login
    if (event.origin !== WWW_ORIGIN || typeof event.data !== "string") { return; }
    var data;
    try { data = JSON.parse(event.data); } catch (err) { return; }
    if (data && data.type === "FB_SDK_LOGIN_RESPONSE") { finish(data.response); }
  });

  var FB = {
    init: function (options) {
      options = options || {};
      Object.keys(options).forEach(function (key) { settings[key] = options[key]; });
    },
    login: function (callback, options) {
      options = options || {};
      if (pending) { finish({ authResponse: null, status: "unknown" }); }
      var params = new URLSearchParams({
        client_id: settings.appId || "",
        display: "popup",
        origin: window.location.origin,
        redirect_uri: window.location.href,
        response_type: options.response_type || "token",
        override_default_response_type: String(!!options.override_default_response_type)
      });
      if (options.config_id) { params.set("config_id", options.config_id); }
      if (options.scope) { params.set("scope", options.scope); }
      if (options.extras) { params.set("extras", JSON.stringify(options.extras)); }
      var url = WWW + "/" + (settings.version || "v23.0") + "/dialog/oauth?" + params.toString();
      var popup = window.open(url, "fb_embedded_signup", "width=640,height=760,scrollbars=yes");
      pending = { callback: callback || function () {}, popup: popup, timer: null };
      if (!popup) { finish({ authResponse: null, status: "unknown" }); return; }
      var mine = pending;
      mine.timer = setInterval(function () {
        if (pending === mine && popup.closed) {
          clearInterval(mine.timer);
          // give the popup's last postMessage time to arrive before reporting a close
          setTimeout(function () {
            if (pending === mine) { finish({ authResponse: null, status: "unknown" }); }
          }, 400);
        }
      }, 250);
    },
    getLoginStatus: function (callback) { callback({ status: "unknown", authResponse: null }); },
    getAuthResponse: function () { return null; },
    logout: function (callback) { if (callback) { callback({ status: "unknown", authResponse: null }); } },
    AppEvents: { logEvent: function () {}, logPageView: function () {} },
    XFBML: { parse: function () {} },
    Event: { subscribe: function () {}, unsubscribe: function () {} }
  };
  window.FB = FB;
  if (typeof window.fbAsyncInit === "function") { setTimeout(window.fbAsyncInit, 0); }
})();
