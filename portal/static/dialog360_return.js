/* The 360dialog hub's return, in the popup: hand the run's address (or the error) to the
 * connect page that opened it, on this origin only, and close; opened as a full page (the
 * popup was blocked), go to the run itself. */
(function () {
  var root = document.getElementById('return-result');
  if (!root) { return; }
  var error = root.dataset.error, target = root.dataset.target;
  var sameOrigin = false;
  try { sameOrigin = !!window.opener && window.opener.location.origin === window.location.origin; } catch (e) {}
  if (error !== undefined) {
    if (sameOrigin) { window.opener.postMessage({type: 'dialog360-error', error: error}, window.location.origin); }
    return;
  }
  if (sameOrigin) {
    window.opener.postMessage({type: 'dialog360-return', target: target}, window.location.origin);
    window.close();
  } else {
    window.location.replace(target);
  }
})();
