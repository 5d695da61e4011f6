// Starts Swagger UI on /docs with the options the page carries (server/api_docs): a served
// script, as the Content-Security-Policy allows no inline one.
"use strict";

(function () {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    ...JSON.parse(root.dataset.options),
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
