"""The web console: served by the bot itself (`qunguan run` with `web.listen`) or alone (`qunguan console`).

app.py builds the Starlette app, auth.py holds one-time login links, sessions and CSRF, api.py the JSON API,
server.py runs uvicorn on the caller's event loop.
"""
