"""The operator console's web page (issue #16): static files only, no Python logic.

``static/`` holds the HTML, CSS and ES modules the gateway serves at
``/console/`` (package data, shipped in the wheel). The page reads the
gateway's ``/console/api/...`` JSON and its server-sent events with the
viewer's bearer token; nothing here runs on the server, so the page has no
build step and no third-party code (the gateway's Content-Security-Policy
allows only same-origin scripts and styles).
"""
