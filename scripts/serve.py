"""Serve a built Kiln site on 127.0.0.1 with the right MIME type for WebAssembly."""
import functools
import http.server
import sys

directory, port = sys.argv[1], int(sys.argv[2])
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
handler.extensions_map = {**handler.extensions_map, ".wasm": "application/wasm", ".js": "text/javascript"}
http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
