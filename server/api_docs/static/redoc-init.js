// Starts ReDoc on /redoc with the API document the page names (server/api_docs). ReDoc writes
// its styles into <style> elements, which need the page's style nonce. Browsers hide nonce
// attributes from getAttribute, where ReDoc reads options, so it comes from this script's .nonce.
"use strict";

(function () {
  const root = document.getElementById("redoc");
  Redoc.init(root.dataset.specUrl, { nonce: document.currentScript.nonce }, root);
})();
