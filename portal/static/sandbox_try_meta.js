/* The sandbox page's "Open the signup popup": FB.login against the sandbox's sdk.js, with
 * the callback and the WA_EMBEDDED_SIGNUP message (from the dialog origin only) shown as
 * they arrive. */
(function () {
  var root = document.getElementById('try-meta-config');
  if (!root) { return; }
  var cfg = JSON.parse(root.dataset.config);
  var out = document.getElementById('meta-result');
  var button = document.getElementById('launch-meta');
  function show(label, value) { out.textContent += label + ': ' + JSON.stringify(value, null, 1) + '\n'; }
  window.addEventListener('message', function (event) {
    if (event.origin !== new URL(cfg.dialogOrigin).origin) { return; }
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    if (data.type === 'WA_EMBEDDED_SIGNUP') { show('WA_EMBEDDED_SIGNUP', data); }
  });
  function init() {
    FB.init({appId: cfg.appId, version: cfg.version});
    button.disabled = false;
  }
  if (window.FB) { init(); } else { window.fbAsyncInit = init; }
  button.addEventListener('click', function () {
    out.textContent = '';
    FB.login(function (response) { show('login callback', response); }, {
      config_id: cfg.configId, response_type: 'code', override_default_response_type: true,
      extras: {setup: {}, featureType: '', sessionInfoVersion: '3'}
    });
  });
})();
