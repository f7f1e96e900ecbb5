"""Serve a built Kiln site on 127.0.0.1 with the right MIME types for WebAssembly and modules."""
import http.server
import sys

directory, port = sys.argv[1], int(sys.argv[2])


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".js": "text/javascript",
        ".svg": "image/svg+xml",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=directory, **kwargs)


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
