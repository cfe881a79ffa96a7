/* 360dialog Integrated Onboarding: a nonce, then the hub's permissions page in a popup.
 * The same-origin return page posts the run's address back here and closes; when the
 * popup is blocked, the page itself goes to the hub (the full-page redirect fallback). */
(function () {
  var root = document.getElementById('dialog360-connect');
  if (!root) { return; }
  var cfg = JSON.parse(root.dataset.config);
  var button = document.getElementById('connect-360');
  var status = document.getElementById('connect-360-status');

  window.addEventListener('message', function (event) {
    if (event.origin !== window.location.origin || !event.data) { return; }
    if (event.data.type === 'dialog360-return' && event.data.target) {
      window.location.assign(event.data.target);
    } else if (event.data.type === 'dialog360-error') {
      status.textContent = event.data.error; button.disabled = false;
    }
  });

  button.addEventListener('click', function () {
    button.disabled = true;
    status.textContent = 'Opening 360dialog…';
    fetch(cfg.launchUrl, {method: 'POST', credentials: 'same-origin', headers: {'X-CSRFToken': cfg.csrf}})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var popup = window.open(data.url, 'dialog360', 'toolbar=no,menubar=no,width=600,height=900,top=100,left=100');
        if (!popup) { window.location.assign(data.url); return; }
        status.textContent = 'Finish in the 360dialog window.';
      })
      .catch(function () { status.textContent = 'Could not start: please reload.'; button.disabled = false; });
  });
})();
