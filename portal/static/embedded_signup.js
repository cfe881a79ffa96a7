/* Embedded Signup v4 launcher: collects the code (FB.login callback) and the
 * WA_EMBEDDED_SIGNUP message in whichever order they arrive, accepting messages from
 * the configured dialog origin or any https://*.facebook.com origin (as Meta's own
 * sample does), then posts both with the launch's state nonce. The person picks a new
 * Cloud API number or their WhatsApp Business app number (coexistence: featureType
 * whatsapp_business_app_onboarding). */
(function () {
  var root = document.getElementById('embedded-signup');
  if (!root) { return; }
  var cfg = JSON.parse(root.dataset.config);
  var status = document.getElementById('signup-status');
  var button = document.getElementById('connect-meta');
  var attempt = null;

  function say(text) { status.textContent = text; }

  function post(url, body) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRFToken': cfg.csrf},
      body: JSON.stringify(body || {})
    }).then(function (r) { return r.json().then(function (data) { return {ok: r.ok, data: data}; }); });
  }

  function finish() {
    if (!attempt || attempt.sent) { return; }
    var ended = attempt.event && ['CANCEL', 'ERROR'].indexOf(attempt.event.event) >= 0;
    if (!(attempt.loginDone && (attempt.event || !attempt.code)) && !ended) { return; }
    if (!attempt.code && !attempt.event) { say('The signup window was closed before it finished.'); button.disabled = false; attempt = null; return; }
    attempt.sent = true;
    say('Connecting your number…');
    var body = {state: attempt.state, code: attempt.code, event: attempt.event};
    (cfg.fields || []).forEach(function (id) { body[id] = document.getElementById(id).value; });
    post(cfg.completeUrl, body).then(function (res) {
      if (res.ok) { window.location.assign(res.data.redirect || res.data.run_url); return; }
      say(res.data.error || 'The connection could not start.');
      button.disabled = false;
    });
  }

  function fromFacebook(origin) {
    if (origin === cfg.dialogOrigin) { return true; }
    try {
      var url = new URL(origin);
      return url.protocol === 'https:' &&
        (url.hostname === 'facebook.com' || url.hostname.slice(-13) === '.facebook.com');
    } catch (e) { return false; }
  }

  function feature() {
    var picked = document.querySelector('input[name="signup-feature"]:checked');
    return picked ? picked.value : '';
  }

  window.addEventListener('message', function (event) {
    if (!fromFacebook(event.origin) || !attempt) { return; }
    var data;
    try { data = typeof event.data === 'string' ? JSON.parse(event.data) : event.data; } catch (e) { return; }
    if (!data || data.type !== 'WA_EMBEDDED_SIGNUP') { return; }
    attempt.event = data;
    finish();
  });

  function init() {
    FB.init({appId: cfg.appId, autoLogAppEvents: true, xfbml: true, version: cfg.version});
    button.disabled = false;
  }
  if (window.FB) { init(); } else { window.fbAsyncInit = init; }

  button.addEventListener('click', function () {
    button.disabled = true;
    say('Opening Facebook…');
    post(cfg.launchUrl).then(function (res) {
      if (!res.ok) { say('Could not start: please reload the page.'); button.disabled = false; return; }
      attempt = {state: res.data.state, code: null, event: null, loginDone: false, sent: false};
      var missing = (cfg.fields || []).filter(function (id) { return !document.getElementById(id).value.trim(); });
      if (missing.length) { say('Fill in the form first.'); button.disabled = false; attempt = null; return; }
      var extras = {setup: cfg.setup || {}, featureType: feature(), sessionInfoVersion: '3', version: 'v4'};
      FB.login(function (response) {
        attempt.loginDone = true;
        attempt.code = response && response.authResponse ? response.authResponse.code : null;
        // The message may still be on its way: give it a moment before deciding.
        setTimeout(finish, attempt.code ? 0 : 1500);
        finish();
      }, {config_id: cfg.configId, response_type: 'code', override_default_response_type: true, extras: extras});
    });
  });
})();
