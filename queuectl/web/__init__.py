"""`queuectl dashboard`: a live web page, a JSON API and Prometheus metrics over the store.

Starlette on uvicorn, installed by the `web` extra; nothing outside this package imports it, so
other commands never pay for it. Reads go through store verbs and core/ (never cli/)."""
